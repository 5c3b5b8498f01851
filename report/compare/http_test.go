package compare

import (
	"slices"
	"strings"
	"testing"

	"github.com/fbench/fbench/report"
)

func TestCompareNotesHTTPModeAndAddsHTTPClocks(t *testing.T) {
	sum := func(mode string, total int64) *report.Summary {
		return &report.Summary{HTTPMode: mode, Latency: map[string]report.Stats{report.MetricHTTPTotal: {Count: total}}}
	}
	notes := differences([]RunEntry{{Summary: sum("rpc", 0)}}, []RunEntry{{Summary: sum("proxy", 10)}})
	if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "HTTP functions were driven differently") }) {
		t.Errorf("notes %v", notes)
	}
	proxied := &RunSet{Runs: []RunEntry{{Summary: sum("proxy", 10)}}}
	if m := httpCompareMetrics(proxied, proxied); !slices.Contains(m, "http_total.p99") {
		t.Errorf("proxied runs: %v", m)
	}
	if m := httpCompareMetrics(&RunSet{Runs: []RunEntry{{Summary: sum("rpc", 0)}}}, proxied); m != nil {
		t.Errorf("a side without the HTTP clocks: %v", m)
	}
	if tol := DefaultTolerance("http_total.p99"); tol.Off || tol.Value != 0.10 {
		t.Errorf("http_total.p99 tolerance %+v, want rtt's 10%%", tol)
	}
}
