package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/report"
)

// gateFlags are fbench run's CI-gate flags: service-level objectives and repetitions.
type gateFlags struct {
	slo       []string
	sloWindow time.Duration
	repeat    int
}

const sloFlagHelp = "service-level objective `EXPR`, e.g. rtt.p99<50ms, error_rate<0.1%, achieved_rps>=4900, rtt.p99{fn=echo}<20ms (repeatable; exit 2 when one fails)"

const sloWindowHelp = "also check each --slo on every window of this length (a multiple of --interval); the worst window must pass"

func (g *gateFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&g.slo, "slo", nil, sloFlagHelp)
	fs.DurationVar(&g.sloWindow, "slo-window", 0, sloWindowHelp)
	fs.IntVar(&g.repeat, "repeat", 1, "run `N` times into OUT/run-1 … run-N (a fresh worker each time), then print each metric's median and spread; the exit code is the worst run's")
}

// sloPlan is a run's parsed objectives.
type sloPlan struct {
	slos   []report.SLO
	window time.Duration
}

// sloPlanOf parses and checks the objectives and the window against the interval length.
func sloPlanOf(exprs []string, window, interval time.Duration) (sloPlan, error) {
	slos, err := report.ParseSLOs(exprs)
	if err != nil {
		return sloPlan{}, err
	}
	if window < 0 {
		return sloPlan{}, fmt.Errorf("invalid --slo-window %s: must not be negative", window)
	}
	if window > 0 {
		if len(slos) == 0 {
			return sloPlan{}, errors.New("--slo-window needs at least one --slo")
		}
		if interval > 0 && (window < interval || window%interval != 0) {
			return sloPlan{}, fmt.Errorf("invalid --slo-window %s: must be a multiple of the interval (%s)", window, interval)
		}
	}
	return sloPlan{slos: slos, window: window}, nil
}

// record adds to a run's recorded configuration the functions it invokes when it names them (an
// SLO on {fn=NAME} of a one-function run reads the run's own figures) and the objectives (fbench
// report checks them again).
func (sp sloPlan) record(p *plan) {
	config := p.config
	if len(p.cfg.Targets) > 0 {
		names := make([]string, len(p.cfg.Targets))
		for i, t := range p.cfg.Targets {
			names[i] = t.Function
		}
		config["targets"] = names
	}
	if len(sp.slos) == 0 {
		return
	}
	exprs := make([]string, len(sp.slos))
	for i, o := range sp.slos {
		exprs[i] = o.Expr
	}
	config["slo"] = exprs
	if sp.window > 0 {
		config["slo_window"] = sp.window.String()
	}
}

// attach makes rw check the objectives when it finishes, windows included.
func (sp sloPlan) attach(rw *report.RunWriter) {
	if len(sp.slos) == 0 {
		return
	}
	ev := report.NewSLOEvaluator(sp.slos, sp.window)
	rw.Observe(ev)
	rw.SetEvaluator(ev.Evaluate)
}

// rebuildOptions adds the objectives to a rebuild's options.
func (sp sloPlan) rebuildOptions(opt *report.RebuildOptions) {
	if len(sp.slos) == 0 {
		return
	}
	ev := report.NewSLOEvaluator(sp.slos, sp.window)
	opt.Observers = append(opt.Observers, ev)
	opt.Evaluate = ev.Evaluate
}

// sloVerdict is nil when every objective of s passed, else an error with exit code 2 naming the
// failures.
func sloVerdict(s *report.Summary) error {
	failed := failedSLOs(s)
	if len(failed) == 0 {
		return nil
	}
	return withCode(exitFailed, fmt.Errorf("%d of %d SLOs failed: %s", len(failed), len(s.SLOs), strings.Join(failed, "; ")))
}

// recordedSLOs reads the objectives a run recorded in run.json (fbench run --slo), its window and
// the run's interval; nothing when run.json cannot be read (the rebuild reports why).
func recordedSLOs(dir string) ([]string, time.Duration, time.Duration) {
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

// failedSLOs describes each SLO of s that failed: expression, window scope and observed value.
func failedSLOs(s *report.Summary) []string { return report.FailedSLOs(s) }
