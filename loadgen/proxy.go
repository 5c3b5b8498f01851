package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fbench/fbench/loadgen/host"
)

// HTTP proxying mode (protocol.md §3.3, §8.2): for a worker that advertises HttpUri, the host
// forwards the caller's HTTP request to HttpUri + path + query with x-ms-invocation-id, beside the
// InvocationRequest, and the invocation is done when both answers are in. The forwarder is that
// HTTP client: keep-alive connections to 127.0.0.1, at most --http-max-conns of them.

// proxyRequest is one function's forwarded request, encoded once: each send inserts its id.
type proxyRequest struct {
	method string
	before []byte // request line, Host and the forwarded headers
	after  []byte // Content-Length, the blank line and the body
	idSet  bool   // the caller already sent x-ms-invocation-id: the host's TryAdd keeps theirs
}

// appendTo appends the request for invocation id to dst.
func (pr *proxyRequest) appendTo(dst []byte, id string) []byte {
	dst = append(dst, pr.before...)
	if !pr.idSet {
		dst = append(dst, invocationIDHeader+": "...)
		dst = append(dst, id...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, pr.after...)
}

// hopHeaders are the request headers YARP does not forward (lower case), with those fbench writes
// itself (Host, Content-Length).
var hopHeaders = map[string]bool{
	"connection": true, "transfer-encoding": true, "keep-alive": true, "upgrade": true, "proxy-connection": true,
	"proxy-authenticate": true, "proxy-authentication-info": true, "proxy-authorization": true, "proxy-features": true,
	"proxy-instruction": true, "security-scheme": true, "alpn": true, "close": true, "http2-settings": true,
	"upgrade-insecure-requests": true, "te": true, "alt-svc": true, "strict-transport-security": true,
	"host": true, "forwarded": true, "content-length": true,
}

// invocationIDHeader pairs a forwarded request with its InvocationRequest.
const invocationIDHeader = "x-ms-invocation-id"

// newProxyRequest encodes the forwarded request of a caller's request in (HTTP/1.1, as the host's
// forwarder speaks to an http:// URI).
func newProxyRequest(p *host.ProxyURI, in *incoming) (*proxyRequest, error) {
	u, err := url.Parse(p.Target(in.path, in.rawQuery))
	if err != nil {
		return nil, err
	}
	pr := &proxyRequest{method: in.method}
	var b bytes.Buffer
	b.WriteString(in.method + " " + u.RequestURI() + " HTTP/1.1\r\n")
	b.WriteString("Host: " + p.URL.Host + "\r\n")
	for _, kv := range in.headers {
		lk := strings.ToLower(kv[0])
		if hopHeaders[lk] || strings.HasPrefix(lk, ":") {
			continue
		}
		if strings.ContainsAny(kv[0], "\r\n: ") || strings.ContainsAny(kv[1], "\r\n") {
			return nil, fmt.Errorf("header %q cannot be sent: a name or value with a line break (or a name with ':' or a space)", kv[0])
		}
		if lk == invocationIDHeader {
			pr.idSet = true
		}
		b.WriteString(kv[0] + ": " + kv[1] + "\r\n")
	}
	// YARP's default transforms: X-Forwarded-* from the caller's request (fbench is the caller, on
	// 127.0.0.1), the original Host kept as X-Forwarded-Host.
	b.WriteString("X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: " + in.header("Host") + "\r\n")
	pr.before = bytes.Clone(b.Bytes())
	b.Reset()
	if len(in.body) > 0 {
		b.WriteString("Content-Length: " + strconv.Itoa(len(in.body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(in.body)
	pr.after = bytes.Clone(b.Bytes())
	return pr, nil
}

// forwarder is the run's HTTP client to the worker's HttpUri.
type forwarder struct {
	pool *connPool
	ctx  context.Context // ended with the run: requests still out are abandoned
}

// Host's RetryProxyHandler: a connection error is retried up to 10 attempts, 50 ms doubling to 250 ms.
const (
	proxyAttempts   = 10
	proxyRetryFirst = 50 * time.Millisecond
	proxyRetryMax   = 250 * time.Millisecond
)

// newForwarder connects to p's 127.0.0.1 address with at most maxConns keep-alive connections.
// timeout bounds one exchange (the run's --timeout plus a margin, so fbench's own deadline comes
// first; 0: none).
func newForwarder(p *host.ProxyURI, maxConns int, timeout time.Duration) *forwarder {
	pool := newConnPool(p.Dial, maxConns, timeout)
	return &forwarder{pool: pool, ctx: pool.ctx}
}

// close abandons what is still out and closes the connections.
func (f *forwarder) close() { f.pool.close() }

// forward sends pr for invocation id and reads the response to its last byte; now stamps times
// (ns since t0). retrying is called once when a refused connection is first retried.
func (f *forwarder) forward(pr *proxyRequest, id string, now func() int64, retrying func()) httpAnswer {
	var a httpAnswer
	delay := proxyRetryFirst
	for attempt := 1; ; attempt++ {
		status, head, n, err := f.pool.exchange(pr, id, now)
		a.end = now()
		if err == nil {
			a.status, a.head, a.bytes = int16(min(status, 32767)), head, n
			return a
		}
		var be *bodyError
		if errors.As(err, &be) {
			a.status, a.head, a.bytes, a.err = int16(min(be.status, 32767)), head, n, proxyCut
			return a
		}
		a.err = classifyProxyErr(err)
		if a.err == proxyRefused && attempt < proxyAttempts && f.ctx.Err() == nil {
			if attempt == 1 {
				retrying()
			}
			time.Sleep(delay)
			delay = min(2*delay, proxyRetryMax)
			continue
		}
		return a
	}
}

// classifyProxyErr names an error before the response's first byte.
func classifyProxyErr(err error) proxyErr {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return proxyRefused
	case closedByPeer(err):
		return proxyReset
	}
	return proxyFailed
}
