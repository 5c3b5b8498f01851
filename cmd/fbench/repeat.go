package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/report/compare"
)

// runRepeat is fbench run --repeat N (see runner.Repeat): a line per run, then each metric's median
// and spread. The exit code is the worst run's (4 > 3 > 2 > 0); a run that could not start (1) or
// an interruption (130) stops the repetitions.
func runRepeat(f *runFlags, fs *pflag.FlagSet, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := runner.Repeat(ctx, f.settings(fs), f.repeat, f.gate, output(f.quiet, stderr), func(i int, p *runner.Plan, err error) {
		if f.quiet { // with -q, only the final error line
			return
		}
		fmt.Fprintf(stdout, "run-%d: exit %d%s\n", i, exitCodeOf(err), runner.Headline(p.Out))
		if err != nil {
			fmt.Fprintf(stderr, "fbench: run-%d: %s\n", i, oneLine(err.Error()))
		}
	})
	if dir == "" || f.quiet {
		return err
	}
	if rs, lerr := compare.LoadRunSet(dir); lerr != nil {
		fmt.Fprintf(stderr, "fbench: %v\n", lerr)
	} else {
		fmt.Fprintln(stdout)
		_ = compare.WriteRunSetText(stdout, rs, nil)
		fmt.Fprintf(stdout, "Reports: %s (compare with: fbench compare BASELINE %s)\n", dir, dir)
	}
	return err
}

// exitCodeOf is the exit code of err: a codeError's, or the kind of a run's end.
func exitCodeOf(err error) int {
	var ce *codeError
	switch {
	case err == nil || errors.Is(err, pflag.ErrHelp):
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, runner.ErrCrashed):
		return exitCrashed
	case errors.Is(err, runner.ErrInterrupted):
		return 130
	case errors.Is(err, runner.ErrInvalid):
		return exitInvalid
	case errors.Is(err, runner.ErrFailed):
		return exitFailed
	}
	return exitError
}
