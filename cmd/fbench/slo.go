package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/runner"
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
type sloPlan struct{ runner.Objectives }

// sloPlanOf parses and checks the objectives and the window against the interval length.
func sloPlanOf(exprs []string, window, interval time.Duration) (sloPlan, error) {
	o, err := runner.ParseObjectives(exprs, window, interval)
	return sloPlan{o}, err
}

// rebuildOptions adds the objectives to a rebuild's options.
func (sp sloPlan) rebuildOptions(opt *report.RebuildOptions) { sp.RebuildOptions(opt) }

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
// the run's interval.
func recordedSLOs(dir string) ([]string, time.Duration, time.Duration) {
	return runner.RecordedObjectives(dir)
}

// failedSLOs describes each SLO of s that failed: expression, window scope and observed value.
func failedSLOs(s *report.Summary) []string {
	var failed []string
	for _, r := range s.SLOs {
		if r.Pass {
			continue
		}
		scope := ""
		if r.WindowS > 0 {
			scope = fmt.Sprintf(" in every %g s window", r.WindowS)
		}
		failed = append(failed, fmt.Sprintf("%s%s (observed %s)", r.Expression, scope, r.Observed))
	}
	return failed
}
