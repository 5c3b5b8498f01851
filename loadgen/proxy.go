package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/fbench/fbench/loadgen/host"
)

// HTTP proxying mode (protocol.md §3.3, §8.2): for a worker that advertises HttpUri, the host
// forwards the caller's HTTP request to HttpUri + path + query with x-ms-invocation-id, beside the
// InvocationRequest, and the invocation is done when both answers are in. The forwarder is that
// HTTP client: keep-alive connections to 127.0.0.1, at most --http-max-conns of them.

// proxyRequest is one function's forwarded request, prepared once: each send adds its id.
type proxyRequest struct {
	method string
	url    *url.URL
	host   string      // the outgoing Host: HttpUri's authority
	header http.Header // the caller's headers as the host forwards them (values shared, read-only)
	body   []byte
	idSet  bool // the caller already sent x-ms-invocation-id: the host's TryAdd keeps theirs
}

// hopHeaders are the request headers YARP does not forward (lower case).
var hopHeaders = map[string]bool{
	"connection": true, "transfer-encoding": true, "keep-alive": true, "upgrade": true, "proxy-connection": true,
	"proxy-authenticate": true, "proxy-authentication-info": true, "proxy-authorization": true, "proxy-features": true,
	"proxy-instruction": true, "security-scheme": true, "alpn": true, "close": true, "http2-settings": true,
	"upgrade-insecure-requests": true, "te": true, "alt-svc": true, "strict-transport-security": true,
	"host": true, "forwarded": true, "content-length": true,
}

// invocationIDHeader pairs a forwarded request with its InvocationRequest.
const invocationIDHeader = "x-ms-invocation-id"

// newProxyRequest prepares the forwarded request of a caller's request in.
func newProxyRequest(p *host.ProxyURI, in *incoming) (*proxyRequest, error) {
	u, err := url.Parse(p.Target(in.path, in.rawQuery))
	if err != nil {
		return nil, err
	}
	pr := &proxyRequest{method: in.method, url: u, host: p.URL.Host, header: http.Header{}, body: in.body}
	for _, kv := range in.headers {
		lk := strings.ToLower(kv[0])
		if hopHeaders[lk] || strings.HasPrefix(lk, ":") {
			continue
		}
		if lk == invocationIDHeader {
			pr.idSet = true
		}
		pr.header[kv[0]] = append(pr.header[kv[0]], kv[1])
	}
	// YARP's default transforms: X-Forwarded-* set from the caller's request (fbench is the caller
	// on 127.0.0.1), the original Host kept as X-Forwarded-Host.
	pr.header["X-Forwarded-For"] = []string{"127.0.0.1"}
	pr.header["X-Forwarded-Proto"] = []string{"http"}
	pr.header["X-Forwarded-Host"] = []string{in.header("Host")}
	if pr.header.Get("User-Agent") == "" {
		pr.header["User-Agent"] = []string{""} // Go would add its own; the host adds none
	}
	return pr, nil
}

// forwarder is the run's HTTP client to the worker.
type forwarder struct {
	client *http.Client
	tr     *http.Transport
	ctx    context.Context // ended with the run: requests still out are abandoned
	cancel context.CancelFunc
}

// Host's RetryProxyHandler: a connection error is retried up to 10 attempts, 50 ms doubling to 250 ms.
const (
	proxyAttempts   = 10
	proxyRetryFirst = 50 * time.Millisecond
	proxyRetryMax   = 250 * time.Millisecond
)

// newForwarder connects to p's 127.0.0.1 address with at most maxConns connections. timeout bounds
// one forwarded exchange (the run's --timeout plus a margin, so fbench's own deadline comes first).
func newForwarder(p *host.ProxyURI, maxConns int, timeout time.Duration) *forwarder {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	addr := p.Dial
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp4", addr) // always 127.0.0.1, whatever HttpUri's host name
		},
		MaxConnsPerHost:     maxConns,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		Proxy:               nil,
	}
	f := &forwarder{tr: tr, client: &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	return f
}

// close abandons what is still out and closes the connections.
func (f *forwarder) close() {
	f.cancel()
	f.tr.CloseIdleConnections()
}

// forward sends pr for invocation id and reads the response to its last byte; now stamps times
// (ns since t0). retrying is called once when a refused connection is first retried.
func (f *forwarder) forward(pr *proxyRequest, id string, now func() int64, retrying func()) httpAnswer {
	var a httpAnswer
	delay := proxyRetryFirst
	for attempt := 1; ; attempt++ {
		req := &http.Request{Method: pr.method, URL: pr.url, Host: pr.host, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: make(http.Header, len(pr.header)+1)}
		for k, v := range pr.header {
			req.Header[k] = v
		}
		if !pr.idSet {
			req.Header[invocationIDHeader] = []string{id}
		}
		if len(pr.body) > 0 {
			req.ContentLength = int64(len(pr.body))
			req.Body = io.NopCloser(bytes.NewReader(pr.body))
		}
		resp, err := f.client.Do(req.WithContext(f.ctx))
		if err != nil {
			a.err = classifyProxyErr(err, false)
			if a.err == proxyRefused && attempt < proxyAttempts && f.ctx.Err() == nil {
				if attempt == 1 {
					retrying()
				}
				time.Sleep(delay)
				delay = min(2*delay, proxyRetryMax)
				continue
			}
			a.end = now()
			return a
		}
		a.head = now()
		a.status = int16(min(resp.StatusCode, 32767))
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		a.end, a.bytes = now(), n
		if err != nil {
			a.err = classifyProxyErr(err, true)
		}
		return a
	}
}

// classifyProxyErr names a forwarding error; inBody: it happened while reading the response body.
func classifyProxyErr(err error, inBody bool) proxyErr {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return proxyRefused
	case inBody:
		return proxyCut
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return proxyReset
	}
	return proxyFailed
}
