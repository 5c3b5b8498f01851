package report

import (
	"testing"
	"time"
)

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
