package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/compare"
)

// runRepeat is fbench run --repeat N: N runs into OUT/run-1 … OUT/run-N, each with a fresh worker
// (and a fresh seed unless --seed was given), then each metric's median and spread. The exit code
// is the worst run's (4 > 3 > 2 > 0); a run that could not start (1) or an interruption (130)
// stops the repetitions.
func runRepeat(f *runFlags, fs *pflag.FlagSet, stdout, stderr io.Writer) error {
	n := f.repeat
	if n < 1 || n > 1000 {
		return fmt.Errorf("invalid --repeat %d: must be between 1 and 1000", n)
	}
	out := f.out
	if out == "" {
		out = filepath.Join("fbench-results", time.Now().UTC().Format("20060102T150405Z"))
	}
	if err := checkOutDir(out); err != nil {
		return err
	}
	fixedSeed := fs.Changed("seed")
	worst, worstRun, failed := exitOK, 0, 0
	var worstErr error
	for i := 1; i <= n; i++ {
		f.out = filepath.Join(out, fmt.Sprintf("run-%d", i))
		if !fixedSeed {
			f.seed = 0 // plan picks a fresh one
		}
		p, err := f.plan(fs)
		if err != nil {
			return err
		}
		p.config["repeat"] = map[string]any{"run": i, "of": n}
		if !f.quiet {
			fmt.Fprintf(stderr, "fbench: run %d of %d → %s\n", i, n, p.out)
		}
		err = execute(p, io.Discard, stderr)
		code := exitCodeOf(err)
		if !f.quiet {
			fmt.Fprintf(stdout, "run-%d: exit %d%s\n", i, code, runLine(p.out))
		}
		if err != nil {
			failed++
			if !f.quiet { // with -q, only the final error line
				fmt.Fprintf(stderr, "fbench: run-%d: %s\n", i, oneLine(err.Error()))
			}
		}
		if code == exitError || code == 130 {
			printRepeat(out, f.quiet, stdout, stderr)
			return err
		}
		if code > worst {
			worst, worstRun, worstErr = code, i, err
		}
	}
	printRepeat(out, f.quiet, stdout, stderr)
	if worst == exitOK {
		return nil
	}
	return withCode(worst, fmt.Errorf("%d of %d runs failed; the worst, run-%d: %v", failed, n, worstRun, worstErr))
}

// printRepeat prints the combined summary of the runs in out.
func printRepeat(out string, quiet bool, stdout, stderr io.Writer) {
	if quiet {
		return
	}
	rs, err := compare.LoadRunSet(out)
	if err != nil {
		fmt.Fprintf(stderr, "fbench: %v\n", err)
		return
	}
	fmt.Fprintln(stdout)
	_ = compare.WriteRunSetText(stdout, rs, nil)
	fmt.Fprintf(stdout, "Reports: %s (compare with: fbench compare BASELINE %s)\n", out, out)
}

// runLine is one run's headline figures, read back from its summary.json.
func runLine(dir string) string {
	s, err := report.LoadSummary(filepath.Join(dir, report.SummaryFile))
	if err != nil {
		return ""
	}
	rtt := s.Latency[report.MetricRTT]
	line := fmt.Sprintf(" · achieved %g rps · rtt p50 %.3f ms, p99 %.3f ms", s.AchievedRPS, float64(rtt.P50)/1000, float64(rtt.P99)/1000)
	for _, r := range s.SLOs {
		if !r.Pass {
			line += " · SLO failed"
			break
		}
	}
	return line
}

// exitCodeOf is the exit code run() turns err into.
func exitCodeOf(err error) int {
	if err == nil || errors.Is(err, pflag.ErrHelp) {
		return exitOK
	}
	var ce *codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitError
}
