package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io"

	"github.com/fbench/fbench/report/compare"
)

//go:embed help/compare-usage.txt
var compareUsage string

func cmdCompare(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", compareUsage, stderr)
	tols := fs.StringArray("max-regression", nil, "tolerance `METRIC=VALUE` (repeatable): rtt.p99=10%, rtt=15% (all rtt percentiles), achieved_rps=5%, error_rate=0.1pp, lag.p99=off")
	extra := fs.StringArray("metric", nil, "also compare `METRIC` (repeatable), e.g. rtt.p99{fn=echo}, timeout_rate, cancel_settle.p99")
	format := fs.String("format", "text", "output: text, md (Markdown for a pull request) or json")
	asJSON := fs.Bool("json", false, "same as --format json")
	force := fs.Bool("force", false, "compare even when the runs are incompatible (different functions or load mode)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("compare takes two run directories, BASELINE and CURRENT (see 'fbench compare --help')")
	}
	if *asJSON {
		*format = "json"
	}
	if *format != "text" && *format != "md" && *format != "json" {
		return fmt.Errorf("invalid --format %q: want text, md or json", *format)
	}
	c, err := compare.Dirs(fs.Arg(0), fs.Arg(1), *tols, *extra, *force)
	if err != nil {
		return err
	}
	if err := c.Write(stdout, *format); err != nil {
		return err
	}
	return compareVerdict(c)
}

// compareVerdict turns a comparison into an exit code: 4 when a run crashed, 3 when a run was
// invalid (either side: a crashed or invalid run cannot pass), 1 when the runs cannot be
// compared, 2 on a regression.
func compareVerdict(c *compare.Comparison) error {
	var code int
	switch {
	case c.CrashedRuns > 0:
		code = exitCrashed
	case c.InvalidRuns > 0:
		code = exitInvalid
	case len(c.Incompatible) > 0 && len(c.Metrics) == 0:
		code = exitError
	case len(c.Regressions) > 0:
		code = exitFailed
	default:
		return nil
	}
	return withCode(code, errors.New("compare: "+c.Verdict()))
}
