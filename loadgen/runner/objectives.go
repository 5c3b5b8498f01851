package runner

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fbench/fbench/report"
)

// Objectives are a run's service-level objectives, also checked on every window of Window when set.
type Objectives struct {
	SLOs   []report.SLO
	Window time.Duration
}

// ParseObjectives parses and checks the objectives and the window against the interval length.
func ParseObjectives(exprs []string, window, interval time.Duration) (Objectives, error) {
	slos, err := report.ParseSLOs(exprs)
	if err != nil {
		return Objectives{}, err
	}
	if window < 0 {
		return Objectives{}, fmt.Errorf("invalid --slo-window %s: must not be negative", window)
	}
	if window > 0 {
		if len(slos) == 0 {
			return Objectives{}, errors.New("--slo-window needs at least one --slo")
		}
		if interval > 0 && (window < interval || window%interval != 0) {
			return Objectives{}, fmt.Errorf("invalid --slo-window %s: must be a multiple of the interval (%s)", window, interval)
		}
	}
	return Objectives{SLOs: slos, Window: window}, nil
}

// Evaluator is the objectives' evaluator (nil when there are none): it observes every interval and
// evaluates the summary.
func (o Objectives) Evaluator() *report.SLOEvaluator {
	if len(o.SLOs) == 0 {
		return nil
	}
	return report.NewSLOEvaluator(o.SLOs, o.Window)
}

// RebuildOptions adds the objectives to a rebuild's options.
func (o Objectives) RebuildOptions(opt *report.RebuildOptions) {
	if ev := o.Evaluator(); ev != nil {
		opt.Observers = append(opt.Observers, ev)
		opt.Evaluate = ev.Evaluate
	}
}

// RecordedObjectives reads the objectives a run recorded in run.json (see NewPlan), its window and
// the run's interval; nothing when run.json cannot be read (a rebuild reports why).
func RecordedObjectives(dir string) ([]string, time.Duration, time.Duration) {
	meta, err := report.LoadMeta(filepath.Join(dir, report.RunFile))
	if err != nil {
		return nil, 0, 0
	}
	var exprs []string
	if list, ok := meta.Config["slo"].([]any); ok {
		for _, e := range list {
			if s, ok := e.(string); ok {
				exprs = append(exprs, s)
			}
		}
	}
	var window time.Duration
	if w, ok := meta.Config["slo_window"].(string); ok {
		window, _ = time.ParseDuration(w)
	}
	return exprs, window, meta.Interval
}

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
	exprs, window, interval := RecordedObjectives(dir)
	if r.SLOsSet {
		exprs, window = r.SLOs, 0
	}
	if r.WindowSet {
		window = r.Window
	}
	o, err := ParseObjectives(exprs, window, interval)
	if err != nil {
		return nil, err
	}
	opt := report.RebuildOptions{From: r.From, To: r.To}
	o.RebuildOptions(&opt)
	return report.RebuildWith(dir, opt)
}
