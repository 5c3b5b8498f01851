package loadgen

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		head     bool
		status   int
		n        int64
		keep     bool
		bad      bool
	}{
		{name: "length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", status: 200, n: 5, keep: true},
		{name: "chunked", in: "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: 1\r\n\r\n", status: 201, n: 5, keep: true},
		{name: "interim 100", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", status: 204, keep: true},
		{name: "close", in: "HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno", status: 500, n: 2},
		{name: "to the end", in: "HTTP/1.0 200 OK\r\n\r\nuntil close", status: 200, n: 11},
		{name: "HEAD", in: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", head: true, status: 200, keep: true},
		{name: "LF only", in: "HTTP/1.1 404 Not Found\nContent-Length: 0\n\n", status: 404, keep: true},
		{name: "cut body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", status: 200, n: 3, bad: true},
		{name: "garbage", in: "SSH-2.0-OpenSSH\r\n\r\n", bad: true},
		{name: "bad chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", status: 200, bad: true},
		{name: "empty", in: "", bad: true},
	} {
		st, n, keep, err := readResponse(bufio.NewReader(strings.NewReader(tc.in)), tc.head)
		if (err != nil) != tc.bad || st != tc.status || n != tc.n || (!tc.bad && keep != tc.keep) {
			t.Errorf("%s: status %d, bytes %d, keep %v, err %v", tc.name, st, n, keep, err)
		}
	}
}

// FuzzReadResponse: whatever a worker answers, the parser ends without panicking and never counts
// more body bytes than it was given.
func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false)
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false)
	f.Add("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", true)
	f.Fuzz(func(t *testing.T, in string, head bool) {
		_, n, _, _ := readResponse(bufio.NewReaderSize(strings.NewReader(in), 64), head)
		if n < 0 || n > int64(len(in)) {
			t.Fatalf("%d body bytes from %d bytes of input", n, len(in))
		}
	})
}
