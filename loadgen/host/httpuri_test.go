package host

import (
	"strings"
	"testing"
)

func TestParseProxyURI(t *testing.T) {
	for _, tc := range []struct {
		raw, dial, err string
	}{
		{raw: "http://localhost:5000/", dial: "127.0.0.1:5000"},
		{raw: "http://127.0.0.1:7000", dial: "127.0.0.1:7000"},
		{raw: "http://LOCALHOST/", dial: "127.0.0.1:80"},
		{raw: "https://localhost:5001/", err: "plain http"},
		{raw: "http://10.0.0.1:80/", err: "not on 127.0.0.1"},
		{raw: "http://[::1]:80/", err: "not on 127.0.0.1"},
		{raw: "localhost:80", err: "not an absolute URI"},
		{raw: "http://localhost:80/?x=1", err: "no user, query"},
	} {
		p, err := ParseProxyURI(tc.raw)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.raw) {
				t.Errorf("%s: error %v, want one naming the value and %q", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil || p.Dial != tc.dial {
			t.Errorf("%s: %+v %v", tc.raw, p, err)
		}
	}
	p, _ := ParseProxyURI("http://localhost:5000/")
	if got := p.Target("/api/hello", "a=1"); got != "http://localhost:5000/api/hello?a=1" {
		t.Errorf("target %q", got)
	}
	p, _ = ParseProxyURI("http://127.0.0.1:7000")
	if got := p.Target("/api/hello", ""); got != "http://127.0.0.1:7000/api/hello" {
		t.Errorf("target %q", got)
	}
}
