package slo

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fbench/fbench/report"
)

// Plan is a run's parsed objectives and the window they are also checked on.
type Plan struct {
	SLOs   []Objective
	Window time.Duration
}

// NewPlan parses and checks the objectives and the window against the interval length.
func NewPlan(exprs []string, window, interval time.Duration) (Plan, error) {
	slos, err := ParseAll(exprs)
	if err != nil {
		return Plan{}, err
	}
	if window < 0 {
		return Plan{}, fmt.Errorf("invalid --slo-window %s: must not be negative", window)
	}
	if window > 0 {
		if len(slos) == 0 {
			return Plan{}, errors.New("--slo-window needs at least one --slo")
		}
		if interval > 0 && (window < interval || window%interval != 0) {
			return Plan{}, fmt.Errorf("invalid --slo-window %s: must be a multiple of the interval (%s)", window, interval)
		}
	}
	return Plan{SLOs: slos, Window: window}, nil
}

// Record adds the objectives to a run's recorded configuration (fbench report checks them again).
func (sp Plan) Record(config map[string]any) {
	if len(sp.SLOs) == 0 {
		return
	}
	exprs := make([]string, len(sp.SLOs))
	for i, o := range sp.SLOs {
		exprs[i] = o.Expr
	}
	config["slo"] = exprs
	if sp.Window > 0 {
		config["slo_window"] = sp.Window.String()
	}
}

// Evaluator is the objectives' evaluator, nil when there are none: it observes every interval
// and evaluates the summary.
func (sp Plan) Evaluator() *Evaluator {
	if len(sp.SLOs) == 0 {
		return nil
	}
	return NewEvaluator(sp.SLOs, sp.Window)
}

// Attach makes rw check the objectives when it finishes, windows included.
func (sp Plan) Attach(rw *report.RunWriter) {
	if ev := sp.Evaluator(); ev != nil {
		rw.Observe(ev)
		rw.SetEvaluator(ev.Evaluate)
	}
}

// AddTo adds the objectives to a rebuild's options.
func (sp Plan) AddTo(opt *report.RebuildOptions) {
	if ev := sp.Evaluator(); ev != nil {
		opt.Observers = append(opt.Observers, ev)
		opt.Evaluate = ev.Evaluate
	}
}

// AddToMerge adds the objectives to a merge's options.
func (sp Plan) AddToMerge(opt *report.MergeOptions) {
	if ev := sp.Evaluator(); ev != nil {
		opt.Observers = append(opt.Observers, ev)
		opt.Evaluate = ev.Evaluate
	}
}

// PlanFor is the objectives to check again on the run recorded in dir (fbench report, merge): the
// ones it recorded and their window, or exprs when replace is set (the recorded window is then
// dropped), and window instead of that window when rewindow is set.
func PlanFor(dir string, exprs []string, replace bool, window time.Duration, rewindow bool) (Plan, error) {
	recorded, w, interval := Recorded(dir)
	if !replace {
		exprs = recorded
	}
	if !rewindow {
		window = 0
		if !replace {
			window = w
		}
	}
	return NewPlan(exprs, window, interval)
}

// Verdict is nil when every objective of s passed, else an error naming the failures.
func Verdict(s *report.Summary) error {
	failed := report.FailedSLOs(s)
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d SLOs failed: %s", len(failed), len(s.SLOs), strings.Join(failed, "; "))
}

// Recorded reads the objectives a run recorded in run.json (fbench run --slo), their window
// and the run's interval; nothing when run.json cannot be read (the rebuild reports why).
func Recorded(dir string) ([]string, time.Duration, time.Duration) {
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
