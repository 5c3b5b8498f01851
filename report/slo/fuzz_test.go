package slo

import (
	"strings"
	"testing"
)

// FuzzParse: the SLO parser never panics, its errors are one line naming the expression, and
// whatever it accepts prints back (String) to an expression it parses to the same objective.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"rtt.p99<50ms", "rtt.p999 <= 200 ms", "error_rate<0.1%", "achieved_rps>=4900",
		"cancelled_ratio>0.9", "rtt.p99{fn=echo}<20ms", "lag.max<10ms", "timeout_rate==0", "rtt.p99<", "<<>>", "rtt.p99<5xs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		o, err := Parse(expr)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") && !strings.ContainsAny(expr, "\r\n") {
				t.Fatalf("error is not one line: %q", msg)
			}
			return
		}
		again, err := Parse(o.String())
		if err != nil {
			t.Fatalf("%q parsed, but its String %q does not: %v", expr, o.String(), err)
		}
		if again.String() != o.String() {
			t.Fatalf("%q → %q → %q", expr, o.String(), again.String())
		}
	})
}
