package runner

import (
	"fmt"
	"time"

	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/slo"
)

// Rebuild says how to rebuild a run directory's reports: the time range (To 0: the end), and the
// objectives to check instead of the recorded ones (when SLOsSet) and their window (when WindowSet).
type Rebuild struct {
	From, To  time.Duration
	SLOs      []string
	SLOsSet   bool
	Window    time.Duration
	WindowSet bool
}

// Run rebuilds dir's summary.json, intervals.csv, percentiles.csv and report.html from its interval
// log and recorded metadata, checking the objectives again.
func (r Rebuild) Run(dir string) (*report.Summary, error) {
	if r.From < 0 || r.To < 0 || (r.To > 0 && r.To <= r.From) {
		return nil, fmt.Errorf("invalid range --from %s --to %s", r.From, r.To)
	}
	o, err := slo.PlanFor(dir, r.SLOs, r.SLOsSet, r.Window, r.WindowSet)
	if err != nil {
		return nil, err
	}
	opt := report.RebuildOptions{From: r.From, To: r.To}
	o.AddTo(&opt)
	return report.RebuildWith(dir, opt)
}
