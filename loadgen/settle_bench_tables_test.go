package loadgen

import "github.com/fbench/fbench/report"

// withFailureTable gives a bare engine the failures table and log counter a run has.
func withFailureTable(e *engine) {
	e.failures, e.logs = report.NewFailureTable(), report.NewLogCounter()
}
