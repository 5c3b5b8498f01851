package host

import (
	"fmt"
	"net/url"
	"strings"
)

// ProxyURI is the worker's HttpUri capability, validated: when a worker advertises it, the host
// forwards every HTTP-triggered invocation's request to it (HTTP proxying mode, protocol.md §3.3
// and §8.2). fbench sends traffic only to 127.0.0.1, so the URI must be http on 127.0.0.1 or
// localhost (dialled as 127.0.0.1).
type ProxyURI struct {
	Raw  string   // as advertised
	URL  *url.URL // parsed
	Dial string   // the address fbench connects to: 127.0.0.1:PORT
}

// ParseProxyURI validates an advertised HttpUri; the error is one line naming the value.
func ParseProxyURI(raw string) (*ProxyURI, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("capability HttpUri %q is not an absolute URI", raw)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("capability HttpUri %q: fbench forwards HTTP requests over plain http only (scheme %q)", raw, u.Scheme)
	}
	h := u.Hostname()
	if h != "127.0.0.1" && !strings.EqualFold(h, "localhost") {
		return nil, fmt.Errorf("capability HttpUri %q is not on 127.0.0.1 or localhost: fbench sends traffic only to 127.0.0.1", raw)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("capability HttpUri %q: want http://HOST:PORT/ with no user, query or fragment", raw)
	}
	return &ProxyURI{Raw: raw, URL: u, Dial: "127.0.0.1:" + port}, nil
}

// Target is the URL the host forwards a request for path and rawQuery to: the HttpUri string
// with one trailing '/' dropped (when the path is not empty), then the path and the raw query
// (YARP's MakeDestinationAddress, no rewriting).
func (p *ProxyURI) Target(path, rawQuery string) string {
	base := p.Raw
	if path != "" {
		base = strings.TrimSuffix(base, "/")
	}
	s := base + path
	if rawQuery != "" {
		s += "?" + rawQuery
	}
	return s
}

// HTTPProxy returns the worker's validated HttpUri, or nil when it does not advertise one.
func (w *Worker) HTTPProxy() *ProxyURI { return w.proxy }
