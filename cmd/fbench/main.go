package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/capacity"
	"github.com/fbench/fbench/loadgen/refworker"
	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/slo"
)

// Exit codes, documented in the README and --help.
const (
	exitOK       = 0 // the run passed
	exitError    = 1 // fbench could not run: bad input, the worker failed to start
	exitFailed   = 2 // an SLO or a comparison failed
	exitInvalid  = 3 // the harness fell behind: the numbers cannot be trusted
	exitCrashed  = 4 // the worker crashed
	exitUsageMsg = `Exit codes: 0 pass; 1 fbench could not run (bad input, worker failed to start); 2 an SLO or
comparison failed; 3 the run is invalid (the harness fell behind: lag or CPU over budget); 4 the worker crashed; 130
interrupted. When several apply the first of 4, 130, 3, 2 wins: a crashed or invalid run cannot pass.`
)

// version is fbench's version, set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries an exit code with a message.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &codeError{code, err} }

// run dispatches the verb and turns errors into one line on stderr and an exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmds := map[string]func([]string, io.Writer, io.Writer) error{"run": cmdRun, "probe": cmdProbe, "report": cmdReport,
		"compare": cmdCompare, "capacity": cmdCapacity, "coldstart": cmdColdstart, "merge": cmdMerge}
	verb := "run"
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "worker":
			return refworker.Main(args[1:], stdout, stderr) // the built-in reference worker, launched by fbench
		case cmds[a] != nil:
			verb, args = a, args[1:]
		case a == "help" || a == "-h" || a == "--help" || a == "-help":
			fmt.Fprint(stdout, mainUsage+exitUsageMsg+"\n")
			return exitOK
		case a == "version" || a == "--version" || a == "-version":
			fmt.Fprintln(stdout, "fbench", version)
			return exitOK
		}
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// Spare Ps: the sender's wake-ups then compete for a core in the kernel's fine-grained
		// scheduler instead of waiting for a busy P in Go's (measured: harness lag p99 at 1000/s on
		// a loaded 2-core machine 23 ms with 2 Ps, 4 ms with 4).
		runtime.GOMAXPROCS(runtime.NumCPU() + 2)
	}
	if os.Getenv("GOGC") == "" {
		// fbench's heap is small and flat (histograms, the in-flight table): collecting it a quarter
		// as often costs a few MiB and saves 15–25% of CPU per invocation at saturation.
		debug.SetGCPercent(400)
	}
	err := cmds[verb](args, stdout, stderr)
	code := exitCodeOf(err)
	if code == exitOK {
		return code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "fbench: %s\n", oneLine(msg))
	}
	return code
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ") }

// exitCodeOf is the exit code of err: a codeError's or a capacity search's, or the kind of a run's end.
func exitCodeOf(err error) int {
	var ce *codeError
	var ccode *capacity.CodeError
	switch {
	case err == nil || errors.Is(err, pflag.ErrHelp):
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &ccode):
		return ccode.Code
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

// sloVerdict is nil when every objective of s passed, else an error with exit code 2 naming the
// failures.
func sloVerdict(s *report.Summary) error {
	if err := slo.Verdict(s); err != nil {
		return withCode(exitFailed, err)
	}
	return nil
}

// interruptible is the context of a command that starts workers: it ends on an interrupt or SIGTERM.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

//go:embed help/main-usage.txt
var mainUsage string

// newFlagSet returns a flag set that prints its usage to stderr and reports errors as values.
func newFlagSet(name, usage string, stderr io.Writer) *pflag.FlagSet {
	return newFlagSetExits(name, usage, exitUsageMsg, stderr)
}

// newFlagSetExits is newFlagSet for a verb whose exit codes say something else than run's.
func newFlagSetExits(name, usage, exits string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fmt.Fprintln(stderr, "\nFlags:")
		fmt.Fprint(stderr, fs.FlagUsages())
		fmt.Fprintln(stderr, "\n"+exits)
	}
	return fs
}

// parseFlags parses args after rewriting Go-style long flags (-rps 5000, -duration=10s) to the
// GNU style pflag expects. A single-dash word is rewritten only when it names a long flag of fs,
// so shorthands (-d 10s, -n 100, -c 8) and negative values (-5) keep their meaning.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name := a[1:]
			if k := strings.IndexByte(name, '='); k >= 0 {
				name = name[:k]
			}
			if len(name) > 1 && fs.Lookup(name) != nil {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	if err := fs.Parse(out); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%v (see 'fbench %s --help')", err, fs.Name())
	}
	return nil
}
