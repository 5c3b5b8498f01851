package main

import (
	"fmt"
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

// sloVerdict is nil when every objective of s passed, else an error with exit code 2 naming the
// failures.
func sloVerdict(s *report.Summary) error {
	failed := report.FailedSLOs(s)
	if len(failed) == 0 {
		return nil
	}
	return withCode(exitFailed, fmt.Errorf("%d of %d SLOs failed: %s", len(failed), len(s.SLOs), strings.Join(failed, "; ")))
}
