package loadgen

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/report"
)

// httpTotals sums what the intervals counted of HTTP statuses and failure reasons.
func (c *collected) httpTotals() (report.HTTPStatusCounts, map[string]int64) {
	st, fail := report.HTTPStatusCounts{}, map[string]int64{}
	for _, in := range c.intervals {
		st.Add(in.HTTPStatus)
		for r, n := range in.Failures {
			fail[r] += n
		}
	}
	return st, fail
}

func TestProxyModePairsBothAnswers(t *testing.T) {
	w := startWorker(t, "--http=proxy")
	if w.HTTPProxy() == nil || !strings.HasPrefix(w.Capabilities["HttpUri"], "http://localhost:") {
		t.Fatalf("the worker should advertise HttpUri: %v", w.Capabilities)
	}
	const n = 300
	res, c := runEngine(t, w, Config{Schedule: constant(t, 500, 0), Count: n, Targets: []Target{{"echo", 1}}, Seed: 5,
		Payload: Payload{Body: []byte("hello")}, Timeout: 10 * time.Second})
	k := c.counts
	if k.Succeeded != n || k.Settled() != n || k.Unmatched+k.Duplicate != 0 {
		t.Fatalf("counts: %+v", k)
	}
	if res.HTTPMode != "proxy" {
		t.Errorf("HTTP mode %q, want proxy", res.HTTPMode)
	}
	st, fail := c.httpTotals()
	if st["echo"]["200"] != n || k.HTTP2xx != n || len(fail) != 0 {
		t.Errorf("statuses %v, failures %v", st, fail)
	}
	if k.HTTPResponseBytes != n*int64(len("hello")) {
		t.Errorf("response bytes %d, want %d (the echoed body, read to its last byte)", k.HTTPResponseBytes, n*5)
	}
	rtt, ttfb, total := c.hist(report.MetricRTT), c.hist(report.MetricHTTPTTFB), c.hist(report.MetricHTTPTotal)
	if ttfb.TotalCount() != n || total.TotalCount() != n {
		t.Fatalf("http_ttfb %d and http_total %d values, want %d each", ttfb.TotalCount(), total.TotalCount(), n)
	}
	// rtt ends at the later of the two answers: never before the HTTP response's last byte.
	for _, q := range []float64{0, 50, 99, 100} {
		if rtt.ValueAtQuantile(q) < total.ValueAtQuantile(q) || total.ValueAtQuantile(q) < ttfb.ValueAtQuantile(q) {
			t.Errorf("p%v: rtt %d, http_total %d, http_ttfb %d: want rtt >= total >= ttfb", q,
				rtt.ValueAtQuantile(q), total.ValueAtQuantile(q), ttfb.ValueAtQuantile(q))
		}
	}
}

func TestProxyModeMissingSidesCountedWithReason(t *testing.T) {
	refused := closedPort(t)
	for _, tc := range []struct {
		fault   string
		timeout time.Duration
		reason  string
	}{
		{"http-no-invocation-response", 300 * time.Millisecond, reasonNoInvocationResponse},
		{"http-no-response", 300 * time.Millisecond, reasonNoHTTPResponse},
		{"http-reset", 5 * time.Second, proxyReset.reason()},
		// The host retries a refused connection for about 1.85 s, then fails the invocation.
		{"http-uri=http://127.0.0.1:" + refused + "/", 5 * time.Second, proxyRefused.reason()},
	} {
		t.Run(strings.SplitN(tc.fault, "=", 2)[0], func(t *testing.T) {
			w := startWorker(t, "--http=proxy --http-pair-timeout=200ms --fault="+tc.fault)
			const n = 20
			_, c := runEngine(t, w, Config{Schedule: constant(t, 200, 0), Count: n, Targets: []Target{{"echo", 1}}, Seed: 1,
				Timeout: tc.timeout})
			k := c.counts
			_, fail := c.httpTotals()
			if k.Failed != n || k.Succeeded != 0 || k.Settled() != n || fail[tc.reason] != n {
				t.Fatalf("want %d failed with reason %q; counts %+v, reasons %v", n, tc.reason, k, fail)
			}
		})
	}
}

// closedPort is a 127.0.0.1 port nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

func TestHTTPStatusClassesBothModes(t *testing.T) {
	for _, mode := range []string{"rpc", "proxy"} {
		for _, tc := range []struct {
			fn, query, ok string
			code          string
			failed        bool
			reason        string
		}{
			{fn: "status", query: "200", code: "200"},
			{fn: "status", query: "302", code: "302"},
			{fn: "status", query: "302", ok: "200-299", code: "302", failed: true, reason: "HTTP 302"},
			{fn: "status", query: "404", code: "404", failed: true, reason: "HTTP 404"},
			{fn: "status", query: "503", code: "503", failed: true, reason: "HTTP 503"},
			{fn: "status", query: "404", ok: "200-299,404", code: "404"},
			// The function fails: the caller gets 500, and the failure is the invocation's own.
			{fn: "fail", code: "500", failed: true},
		} {
			ok, err := ParseStatusSet(cmpOr(tc.ok, DefaultHTTPOK))
			if err != nil {
				t.Fatal(err)
			}
			const n = 10
			w := startWorker(t, "--http="+mode) // one run per worker: a run's receiver reads its stream to the end
			p := Payload{}
			if tc.query != "" {
				p.Query = [][2]string{{"code", tc.query}}
			}
			_, c := runEngine(t, w, Config{Schedule: constant(t, 200, 0), Count: n, Targets: []Target{{tc.fn, 1}}, Seed: 1,
				Payload: p, HTTPOK: ok, Timeout: 5 * time.Second})
			k := c.counts
			st, fail := c.httpTotals()
			name := mode + " " + tc.fn + " " + tc.query + " ok=" + ok.String()
			if st[tc.fn][tc.code] != n {
				t.Errorf("%s: statuses %v, want %s ×%d", name, st, tc.code, n)
			}
			if tc.failed && k.Failed != n || !tc.failed && k.Succeeded != n {
				t.Errorf("%s: counts %+v, want failed=%v", name, k, tc.failed)
			}
			if tc.reason != "" && fail[tc.reason] != n || tc.reason == "" && len(fail) != 0 {
				t.Errorf("%s: failure reasons %v, want %q ×%d", name, fail, tc.reason, n)
			}
		}
	}
}

func TestNonProxyStatusQuirkBodyMissingIs200(t *testing.T) {
	w := startWorker(t, "")
	_, c := runEngine(t, w, Config{Schedule: constant(t, 200, 0), Count: 10, Targets: []Target{{"status", 1}}, Seed: 1,
		Payload: Payload{Query: [][2]string{{"code", "500"}, {"omit-body", "1"}}}})
	st, _ := c.httpTotals()
	if c.counts.Succeeded != 10 || st["status"]["200"] != 10 {
		t.Fatalf("an RpcHttp without a body gets 200 from the host whatever its status_code: counts %+v, statuses %v", c.counts, st)
	}
}

func TestRoutedFunctionGetsItsParameter(t *testing.T) {
	for _, ref := range []string{"", "--http=proxy", "--mimic=node-stream", "--mimic=python-stream"} {
		w := startWorker(t, ref)
		_, c := runEngine(t, w, Config{Schedule: constant(t, 200, 0), Count: 10, Targets: []Target{{"item", 1}}, Seed: 1,
			Payload: Payload{RouteParams: map[string]string{"id": "42"}}, Timeout: 5 * time.Second})
		st, _ := c.httpTotals()
		// The item function answers 400 when it finds no id where its worker looks for one.
		if c.counts.Succeeded != 10 || st["item"]["200"] != 10 {
			t.Errorf("worker %q: counts %+v, statuses %v", ref, c.counts, st)
		}
		if ref != "" && c.counts.HTTPResponseBytes != 10*int64(len("item 42")) {
			t.Errorf("worker %q: response bytes %d, want the id echoed", ref, c.counts.HTTPResponseBytes)
		}
		_, err := Run(context.Background(), w, Config{Schedule: constant(t, 200, 0), Count: 1, Targets: []Target{{"item", 1}}})
		if err == nil || !strings.Contains(err.Error(), "needs a value for {id}") {
			t.Errorf("worker %q: a route parameter without a value: %v", ref, err)
		}
	}
}

func TestSlowBodyShowsInHTTPTotalNotTTFB(t *testing.T) {
	w := startWorker(t, "--http=proxy")
	const slow = 40 * time.Millisecond
	_, c := runEngine(t, w, Config{Schedule: constant(t, 100, 0), Count: 20, Targets: []Target{{"status", 1}}, Seed: 1,
		Payload: Payload{Query: [][2]string{{"slow-body", slow.String()}}}, Timeout: 5 * time.Second})
	ttfb, total := c.hist(report.MetricHTTPTTFB), c.hist(report.MetricHTTPTotal)
	if c.counts.Succeeded != 20 || ttfb.TotalCount() != 20 {
		t.Fatalf("counts %+v", c.counts)
	}
	// The body comes at least slow after the head: each total is at least its ttfb + slow.
	if gap := time.Duration(total.ValueAtQuantile(50)-ttfb.ValueAtQuantile(50)) * time.Microsecond; gap < slow-time.Millisecond {
		t.Errorf("http_total p50 − http_ttfb p50 = %s, want at least %s", gap, slow)
	}
	if time.Duration(ttfb.ValueAtQuantile(50))*time.Microsecond >= time.Duration(total.ValueAtQuantile(50))*time.Microsecond-slow/2 {
		t.Errorf("http_ttfb p50 %dµs includes the slow body (http_total p50 %dµs)", ttfb.ValueAtQuantile(50), total.ValueAtQuantile(50))
	}
}

func TestNonLoopbackHttpUriRefused(t *testing.T) {
	srv, err := host.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, uri := range []string{"http://10.1.2.3:80/", "https://localhost:8443/", "localhost:80"} {
		_, err := startWorkerErr(srv, "--http=proxy --fault=http-uri="+uri)
		if err == nil || !strings.Contains(err.Error(), "HttpUri") || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("HttpUri %s: want a one-line error naming it, got %v", uri, err)
		}
	}
}

// TestForwardedRequest checks the request the host's forwarder makes: path and query under the
// HttpUri, x-ms-invocation-id, X-Forwarded-*, the outgoing Host and no header Go would invent.
func TestForwardedRequest(t *testing.T) {
	got := make(chan *http.Request, 1)
	bodies := make(chan string, 1)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- string(b)
		rw.WriteHeader(201)
		rw.Write([]byte("created"))
	})}
	go srv.Serve(ln)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	px, err := host.ParseProxyURI("http://localhost:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	f := &host.Function{Name: "items", Bindings: []host.Binding{{Name: "req", Type: "httpTrigger",
		Raw: map[string]any{"route": "items/{id}/{rest?}"}}}}
	in, err := newIncoming(f, f.Trigger(), Payload{Body: []byte("{}"), Headers: [][2]string{{"Content-Type", "application/json"}, {"Connection", "keep-alive"}},
		Query: [][2]string{{"a", "1"}}, RouteParams: map[string]string{"id": "4 2"}})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := newProxyRequest(px, in)
	if err != nil {
		t.Fatal(err)
	}
	fw := newForwarder(px, 4, 5*time.Second)
	defer fw.close()
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	a := fw.forward(pr, "0b0ae5d8-4a40-4d5c-9a6f-2b2f3f8f0b11", now, func() {})
	if a.err != proxyOK || a.status != 201 || a.bytes != 7 || a.head <= 0 || a.end < a.head {
		t.Fatalf("answer %+v", a)
	}
	r := <-got
	checks := map[string][2]string{
		"path":               {r.URL.RequestURI(), "/api/items/4%202?a=1"},
		"method":             {r.Method, "POST"},
		"host":               {r.Host, "localhost:" + port},
		"x-ms-invocation-id": {r.Header.Get("x-ms-invocation-id"), "0b0ae5d8-4a40-4d5c-9a6f-2b2f3f8f0b11"},
		"x-forwarded-host":   {r.Header.Get("X-Forwarded-Host"), hostHeader},
		"x-forwarded-proto":  {r.Header.Get("X-Forwarded-Proto"), "http"},
		"x-forwarded-for":    {r.Header.Get("X-Forwarded-For"), "127.0.0.1"},
		"content-type":       {r.Header.Get("Content-Type"), "application/json"},
		"user-agent":         {r.Header.Get("User-Agent"), ""},
		"accept-encoding":    {r.Header.Get("Accept-Encoding"), ""},
		"body":               {<-bodies, "{}"},
	}
	for what, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s: got %q, want %q", what, c[0], c[1])
		}
	}
}

// startWorkerErr launches the reference worker on srv and returns the handshake's error.
func startWorkerErr(srv *host.Server, refArgs string) (*host.Worker, error) {
	w, err := host.Start(context.Background(), srv, workerOptions(refArgs))
	if w != nil {
		w.Shutdown(time.Second)
	}
	return w, err
}

func TestProxyClocksPerFunction(t *testing.T) {
	w := startWorker(t, "--http=proxy")
	_, c := runEngine(t, w, Config{Schedule: constant(t, 300, 0), Count: 60, Targets: []Target{{"echo", 1}, {"status", 1}}, Seed: 2,
		Timeout: 5 * time.Second})
	e, s := c.hist(report.FunctionTag(report.MetricHTTPTotal, "echo")), c.hist(report.FunctionTag(report.MetricHTTPTotal, "status"))
	if e.TotalCount() == 0 || s.TotalCount() == 0 || e.TotalCount()+s.TotalCount() != 60 ||
		c.hist(report.FunctionTag(report.MetricHTTPTTFB, "echo")).TotalCount() != e.TotalCount() {
		t.Errorf("per-function http_total: echo %d, status %d of 60", e.TotalCount(), s.TotalCount())
	}
}

func TestProxyModeClosedLoop(t *testing.T) {
	w := startWorker(t, "--http=proxy")
	_, c := runEngine(t, w, Config{Concurrency: 16, Duration: time.Second, Targets: []Target{{"echo", 1}}, Timeout: 5 * time.Second})
	k := c.counts
	if k.Succeeded == 0 || k.Succeeded != k.Sent || k.Failed+k.Lost+k.TimedOut != 0 || c.hist(report.MetricHTTPTotal).TotalCount() != k.Succeeded {
		t.Fatalf("closed loop: %+v", k)
	}
	for _, in := range c.intervals {
		if in.InFlight > 16 {
			t.Errorf("interval %d: %d in flight, more than the concurrency", in.Index, in.InFlight)
		}
	}
}
