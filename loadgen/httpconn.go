package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// connPool is the forwarder's HTTP/1.1 client: keep-alive connections to one 127.0.0.1 address,
// at most max of them, each carrying one exchange at a time. It writes each request from bytes
// prepared once per function (only the invocation id changes) and reads the response with a
// small hand parser (status line, Content-Length or chunked body, Connection: close): no
// per-request goroutines or header maps, so forwarding costs little beside the invocation.
type connPool struct {
	addr    string
	max     int
	timeout time.Duration // one exchange, from the request's write to the response's last byte; 0: none
	idle    chan *httpConn
	slots   chan struct{} // one per open connection
	dialer  net.Dialer

	mu     sync.Mutex
	open   map[*httpConn]struct{}
	closed bool
	ctx    context.Context
	cancel context.CancelFunc
}

type httpConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte // the request being written
}

func newConnPool(addr string, max int, timeout time.Duration) *connPool {
	p := &connPool{addr: addr, max: max, timeout: timeout, idle: make(chan *httpConn, max),
		slots: make(chan struct{}, max), open: map[*httpConn]struct{}{}, dialer: net.Dialer{Timeout: 5 * time.Second}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// errPoolClosed: the run ended.
var errPoolClosed = errors.New("connection pool closed")

// get returns an idle connection, a new one while fewer than max are open, or waits for one to
// come back; reused reports a kept-alive connection (the server may have closed it meanwhile).
func (p *connPool) get() (hc *httpConn, reused bool, err error) {
	select {
	case hc = <-p.idle:
		return hc, true, nil
	default:
	}
	select {
	case hc = <-p.idle:
		return hc, true, nil
	case p.slots <- struct{}{}:
		hc, err = p.dial()
		return hc, false, err
	case <-p.ctx.Done():
		return nil, false, errPoolClosed
	}
}

// dial opens a connection in a slot already taken.
func (p *connPool) dial() (*httpConn, error) {
	c, err := p.dialer.DialContext(p.ctx, "tcp4", p.addr)
	if err != nil {
		<-p.slots
		return nil, err
	}
	hc := &httpConn{c: c, r: bufio.NewReaderSize(c, 16<<10)}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		<-p.slots
		return nil, errPoolClosed
	}
	p.open[hc] = struct{}{}
	p.mu.Unlock()
	return hc, nil
}

// put gives a connection back for reuse.
func (p *connPool) put(hc *httpConn) {
	select {
	case p.idle <- hc:
	default:
		p.drop(hc)
	}
}

// drop closes a connection and frees its slot.
func (p *connPool) drop(hc *httpConn) {
	hc.c.Close()
	p.mu.Lock()
	_, ok := p.open[hc]
	delete(p.open, hc)
	p.mu.Unlock()
	if ok {
		<-p.slots
	}
}

// close ends every connection (exchanges still out fail) and refuses new ones.
func (p *connPool) close() {
	p.cancel()
	p.mu.Lock()
	p.closed = true
	conns := make([]*httpConn, 0, len(p.open))
	for hc := range p.open {
		conns = append(conns, hc)
	}
	p.mu.Unlock()
	for _, hc := range conns {
		hc.c.Close()
	}
}

// exchange sends pr for invocation id on a connection and reads the response to its last byte,
// stamping (with now) when its first byte arrived. A kept-alive connection the server had closed
// before anything came back is replaced once, as HTTP clients do.
func (p *connPool) exchange(pr *proxyRequest, id string, now func() int64) (status int, head, n int64, err error) {
	for try := 0; ; try++ {
		hc, reused, err := p.get()
		if err != nil {
			return 0, 0, 0, err
		}
		if p.timeout > 0 {
			hc.c.SetDeadline(time.Now().Add(p.timeout))
		}
		hc.buf = pr.appendTo(hc.buf[:0], id)
		if _, err = hc.c.Write(hc.buf); err == nil {
			if _, err = hc.r.Peek(1); err == nil {
				head = now()
				var keep bool
				status, n, keep, err = readResponse(hc.r, pr.method == "HEAD")
				if err == nil && keep {
					if p.timeout > 0 {
						hc.c.SetDeadline(time.Time{})
					}
					p.put(hc)
				} else {
					p.drop(hc)
				}
				if err != nil {
					err = &bodyError{status: status, err: err}
				}
				return status, head, n, err
			}
		}
		p.drop(hc)
		if reused && try == 0 && p.ctx.Err() == nil && closedByPeer(err) {
			continue // the server closed the idle connection: a fresh one
		}
		return 0, 0, 0, err
	}
}

// closedByPeer reports an error of a connection the other side closed or reset.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// bodyError is an error after the response's first byte: status is what was read (0: none).
type bodyError struct {
	status int
	err    error
}

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// errMalformed is a response fbench cannot read as HTTP/1.x.
var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.x response to its last byte: status, body bytes, and whether the
// connection may be reused. Interim 1xx responses are skipped.
func readResponse(r *bufio.Reader, headOnly bool) (status int, n int64, keep bool, err error) {
	for {
		h, err := readHead(r)
		if err != nil {
			return h.status, 0, false, err
		}
		status, keep = h.status, h.keep
		if status >= 100 && status < 200 && status != 101 {
			continue // interim response
		}
		switch {
		case headOnly || status == 204 || status == 304:
			return status, 0, keep, nil
		case h.chunked:
			n, err = discardChunked(r)
			return status, n, keep, err
		case h.length >= 0:
			n, err = io.CopyN(io.Discard, r, h.length)
			return status, n, keep, err
		default: // to the end of the connection
			n, err = io.Copy(io.Discard, r)
			return status, n, false, err
		}
	}
}

// responseHead is what fbench reads of a response's status line and headers.
type responseHead struct {
	status  int
	keep    bool  // the connection may be reused
	length  int64 // Content-Length (-1: none)
	chunked bool
}

// readHead reads a response's status line and headers. With an error, the status is 0 if the
// status line could not be read.
func readHead(r *bufio.Reader) (responseHead, error) {
	line, err := readLine(r)
	if err != nil {
		return responseHead{}, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return responseHead{}, errMalformed
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return responseHead{}, errMalformed
	}
	h := responseHead{status: status, length: -1,
		keep: line[7] == '1'} // HTTP/1.1 keeps the connection unless told otherwise
	for {
		line, err := readLine(r)
		if err != nil {
			return h, err
		}
		if len(line) == 0 {
			return h, nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return h, errMalformed
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case asciiEqualFold(name, "content-length"):
			if h.length, err = strconv.ParseInt(string(value), 10, 64); err != nil || h.length < 0 {
				return h, errMalformed
			}
		case asciiEqualFold(name, "transfer-encoding"):
			h.chunked = asciiEqualFold(value, "chunked")
		case asciiEqualFold(name, "connection"):
			if asciiEqualFold(value, "close") {
				h.keep = false
			} else if asciiEqualFold(value, "keep-alive") {
				h.keep = true
			}
		}
	}
}

// discardChunked reads a chunked body (and its trailers), returning the body's bytes.
func discardChunked(r *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := readLine(r)
		if err != nil {
			return total, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return total, errMalformed
		}
		if size == 0 {
			for { // trailers up to the empty line
				t, err := readLine(r)
				if err != nil {
					return total, err
				}
				if len(t) == 0 {
					return total, nil
				}
			}
		}
		m, err := io.CopyN(io.Discard, r, size)
		total += m
		if err != nil {
			return total, err
		}
		if crlf, err := readLine(r); err != nil || len(crlf) != 0 {
			return total, errMalformed
		}
	}
}

// readLine reads one CRLF- (or LF-) terminated line without its end; lines longer than the
// buffer are malformed.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errMalformed
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
