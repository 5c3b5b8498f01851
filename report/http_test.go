package report

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCompareNotesHTTPModeAndAddsHTTPClocks(t *testing.T) {
	sum := func(mode string, total int64) *Summary {
		return &Summary{HTTPMode: mode, Latency: map[string]Stats{MetricHTTPTotal: {Count: total}}}
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

func TestMergeSumsHTTPStatusesAndFailures(t *testing.T) {
	part := func(code string, n int64) *mergeSource {
		return &mergeSource{rec: IntervalRecord{Length: time.Second, HTTPStatus: HTTPStatusCounts{"echo": {code: n}},
			Failures: map[string]int64{"HTTP 500": n}}}
	}
	rec := newMerger(time.Second).merge(0, 0, []*mergeSource{part("200", 3), part("500", 2), part("200", 1)})
	if rec.HTTPStatus["echo"]["200"] != 4 || rec.HTTPStatus["echo"]["500"] != 2 || rec.Failures["HTTP 500"] != 6 {
		t.Errorf("merged statuses %v, failures %v", rec.HTTPStatus, rec.Failures)
	}
	if f, _, _, same := planDiff(Meta{HTTPMode: "rpc"}, Meta{HTTPMode: "proxy"}); same || f != "http_mode" {
		t.Errorf("runs in different HTTP modes merge: %q %v", f, same)
	}
}
