package refworker

import (
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fbench/fbench/protos/rpc"
)

// HTTP proxying mode (--http=proxy, --mimic node-stream / python-stream): the worker advertises
// HttpUri, the host forwards each HTTP-triggered invocation's request to it with
// x-ms-invocation-id, and the worker pairs the request with the InvocationRequest by that id,
// answers the HTTP response on the forwarded connection and then an InvocationResponse without an
// HTTP output. Pairing behaves as the .NET worker's HTTP coordinator does when one side never comes
// (Azure/azure-functions-dotnet-worker, extensions/Worker.Extensions.Http.AspNetCore/src/Coordinator/
// DefaultHttpCoordinator.cs): each side waits --http-pair-timeout (5 s) for the other, then the
// invocation fails ("Timed out waiting for the HTTP context to be set") and the HTTP request gets 500.

// proxyServer is the worker's HTTP server and its pairing table.
type proxyServer struct {
	w   *worker
	ln  net.Listener
	srv *http.Server
	uri string // the advertised HttpUri

	mu    sync.Mutex
	pairs map[string]*pair
}

// pair is one invocation's two sides meeting.
type pair struct {
	invReady chan struct{} // closed when the InvocationRequest arrived (inv set)
	inv      *rpc.InvocationRequest
	done     chan bool // the HTTP side ran the function: whether it succeeded
}

// startProxyServer listens on 127.0.0.1 and serves forwarded requests.
func startProxyServer(w *worker) (*proxyServer, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxyServer{w: w, ln: ln, pairs: map[string]*pair{}}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	switch w.cfg.mimic {
	case "python-stream":
		p.uri = "http://127.0.0.1:" + port // Python: http://<--host>:<port>, no trailing slash
	default:
		p.uri = "http://localhost:" + port + "/" // .NET and Node
	}
	if w.cfg.faults.httpURI != "" {
		p.uri = w.cfg.faults.httpURI
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: time.Minute}
	go p.srv.Serve(ln)
	return p, nil
}

func (p *proxyServer) close() { p.srv.Close() }

// get returns id's pair, making it if needed.
func (p *proxyServer) get(id string) *pair {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.pairs[id]
	if pr == nil {
		pr = &pair{invReady: make(chan struct{}), done: make(chan bool, 1)}
		p.pairs[id] = pr
	}
	return pr
}

func (p *proxyServer) remove(id string) {
	p.mu.Lock()
	delete(p.pairs, id)
	p.mu.Unlock()
}

// capabilities are the WorkerInitResponse capabilities: the mimic's set, plus HttpUri in proxy mode.
func (w *worker) capabilities() map[string]string {
	caps := capabilitySets[w.cfg.mimic]
	if w.proxy != nil {
		caps = maps.Clone(caps)
		caps["HttpUri"] = w.proxy.uri
	}
	return caps
}

// ServeHTTP is the forwarded request's side of an invocation.
func (p *proxyServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := p.w
	node := w.cfg.mimic == "node-stream"
	id := r.Header.Get("x-ms-invocation-id")
	if id == "" {
		if node {
			<-r.Context().Done() // Node logs it and never answers
			return
		}
		http.Error(rw, "Expected correlation id header ('x-ms-invocation-id') not present", http.StatusInternalServerError)
		return
	}
	if node && (r.Header.Get("X-Forwarded-Host") == "" || r.Header.Get("X-Forwarded-Proto") == "") {
		http.Error(rw, "Missing x-forwarded-host or x-forwarded-proto header", http.StatusInternalServerError)
		return
	}
	pr := p.get(id)
	t := time.NewTimer(w.cfg.pairTimeout)
	defer t.Stop()
	select {
	case <-pr.invReady:
	case <-t.C:
		p.remove(id)
		http.Error(rw, "Timed out waiting for the function context to be set. Invocation: '"+id+"'.", http.StatusInternalServerError)
		return
	case <-r.Context().Done():
		return
	}
	f := &w.cfg.faults
	switch {
	case f.httpReset:
		pr.done <- true
		if hj, ok := rw.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					tc.SetLinger(0) // a reset, not an orderly close
				}
				conn.Close()
			}
		}
		return
	case f.httpNoResponse:
		pr.done <- true
		<-r.Context().Done()
		return
	}
	fn := w.funcs[pr.inv.FunctionId]
	if node {
		rw.Header().Set("x-ms-invocation-id", id)
	}
	ok := false
	if fn != nil && fn.serve != nil {
		w.mu.Lock()
		c := w.inflight[id]
		w.mu.Unlock()
		ok = fn.serve(w, c, rw, r, pr.inv)
	} else {
		http.Error(rw, "function is not loaded", http.StatusInternalServerError)
	}
	pr.done <- ok
}

// invokeProxied is the InvocationRequest's side: it hands the request to the HTTP side and answers
// once that side has run the function (or fails after the pairing timeout).
func (w *worker) invokeProxied(reqID string, req *rpc.InvocationRequest) {
	id := req.InvocationId
	pr := w.proxy.get(id)
	select {
	case <-pr.invReady: // an invocation with this id is already under way
		w.finish(reqID, newResponse(reqID, id, failure("invocation id '"+id+"' is already in use")))
		return
	default:
	}
	pr.inv = req
	close(pr.invReady)
	t := time.NewTimer(w.cfg.pairTimeout)
	defer t.Stop()
	var r *response
	select {
	case ok := <-pr.done:
		if w.cfg.faults.httpNoInvocationResponse {
			w.proxy.remove(id)
			return
		}
		result := resultSuccess
		if !ok {
			result = resultFail
		}
		r = newResponse(reqID, id, result)
	case <-t.C:
		r = newResponse(reqID, id, failure("Timed out waiting for the HTTP context to be set. Invocation: '"+id+"'."))
	}
	w.proxy.remove(id)
	w.finish(reqID, r)
}

// writeProxied writes status, the content type and body, after slow-body (a query value: the head
// first, the body that much later) when asked.
func (w *worker) writeProxied(rw http.ResponseWriter, r *http.Request, status int, body []byte) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	rw.Header().Set("Content-Type", ct)
	rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	rw.WriteHeader(status)
	if d, err := time.ParseDuration(r.URL.Query().Get("slow-body")); err == nil && d > 0 {
		if fl, ok := rw.(http.Flusher); ok {
			fl.Flush()
		}
		time.Sleep(d)
	}
	rw.Write(body)
}

// readBody reads a forwarded request's body.
func readBody(r *http.Request) []byte {
	if r.ContentLength == 0 {
		return nil
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return []byte(b.String())
}

func serveEcho(w *worker, _ *call, rw http.ResponseWriter, r *http.Request, _ *rpc.InvocationRequest) bool {
	w.writeProxied(rw, r, http.StatusOK, w.responseBody(readBody(r)))
	return true
}

func serveWork(w *worker, c *call, rw http.ResponseWriter, r *http.Request, req *rpc.InvocationRequest) bool {
	if d := w.sampleServiceTime(); d > 0 && !w.spend(d, c) {
		http.Error(rw, "A task was canceled.", http.StatusInternalServerError)
		return false
	}
	return serveEcho(w, c, rw, r, req)
}

// fail: the function throws; ASP.NET answers 500 and the invocation fails.
func serveFail(_ *worker, _ *call, rw http.ResponseWriter, _ *http.Request, _ *rpc.InvocationRequest) bool {
	http.Error(rw, "fbench reference worker: function 'fail' always fails", http.StatusInternalServerError)
	return false
}

// status: answers the status in the query's code (default 200).
func serveStatus(w *worker, _ *call, rw http.ResponseWriter, r *http.Request, _ *rpc.InvocationRequest) bool {
	code := 200
	if n, err := strconv.Atoi(r.URL.Query().Get("code")); err == nil && n >= 100 && n <= 999 {
		code = n
	}
	w.writeProxied(rw, r, code, []byte("status "+strconv.Itoa(code)))
	return true
}

// item (route items/{id}): 200 with the id, 400 without one. Where the id comes from depends on the
// worker: Python takes the RpcHttp params (RequiresRouteParameters), Node the trigger metadata,
// .NET its own ASP.NET routing of the forwarded path.
func serveItem(w *worker, _ *call, rw http.ResponseWriter, r *http.Request, req *rpc.InvocationRequest) bool {
	var id string
	switch w.cfg.mimic {
	case "python-stream":
		id = routeParam(httpInput(req), "id")
	case "node-stream":
		id = req.GetTriggerMetadata()["id"].GetString_()
	default:
		if _, rest, ok := strings.Cut(r.URL.Path, "/items/"); ok && !strings.Contains(rest, "/") {
			id = rest
		}
	}
	if id == "" {
		w.writeProxied(rw, r, http.StatusBadRequest, []byte("missing route parameter id"))
		return true
	}
	w.writeProxied(rw, r, http.StatusOK, []byte("item "+id))
	return true
}

// routeParam reads a route value from the nullable or plain params.
func routeParam(h *rpc.RpcHttp, name string) string {
	if v := h.GetNullableParams()[name].GetValue(); v != "" {
		return v
	}
	return h.GetParams()[name]
}

// queryValue reads a query value from the nullable or plain query.
func queryValue(h *rpc.RpcHttp, name string) string {
	if v := h.GetNullableQuery()[name].GetValue(); v != "" {
		return v
	}
	return h.GetQuery()[name]
}

// status (non-proxy): the status_code in the query's code; with omit-body=1 the RpcHttp has no
// body (the host then answers 200 whatever the status_code says).
func runStatus(w *worker, _ *call, reqID string, req *rpc.InvocationRequest) *response {
	h := httpInput(req)
	code := queryValue(h, "code")
	if code == "" {
		code = "200"
	}
	r := newResponse(reqID, req.InvocationId, resultSuccess)
	r.setHTTP(code, defaultHeaders, []byte("status "+code))
	if queryValue(h, "omit-body") != "" {
		r.http.Body = nil
	}
	return r
}

// item (non-proxy): the id from the RpcHttp params.
func runItem(w *worker, _ *call, reqID string, req *rpc.InvocationRequest) *response {
	id := routeParam(httpInput(req), "id")
	r := newResponse(reqID, req.InvocationId, resultSuccess)
	if id == "" {
		r.setHTTP("400", defaultHeaders, []byte("missing route parameter id"))
	} else {
		r.setHTTP("200", defaultHeaders, []byte("item "+id))
	}
	return r
}
