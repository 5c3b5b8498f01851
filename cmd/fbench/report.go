package main

import (
	_ "embed"
	"fmt"
	"io"
	"time"

	"github.com/fbench/fbench/loadgen/coldstart"
	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/report"
)

//go:embed help/report-usage.txt
var reportUsage string

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", reportUsage, stderr)
	from := fs.Duration("from", 0, "first moment of the run to include (offset from its start, e.g. 30s)")
	to := fs.Duration("to", 0, "last moment of the run to include (0: the end)")
	quiet := fs.Bool("quiet", false, "do not print the summary")
	slos := fs.StringArray("slo", nil, sloFlagHelp+"; replaces the run's own")
	sloWindow := fs.Duration("slo-window", 0, sloWindowHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("report takes one run directory (see 'fbench report --help')")
	}
	if coldstart.IsRunDir(fs.Arg(0)) {
		if fs.Changed("from") || fs.Changed("to") || fs.Changed("slo-window") {
			return fmt.Errorf("%s is a cold-start run: --from, --to and --slo-window do not apply", fs.Arg(0))
		}
		return reportColdstart(fs.Arg(0), *slos, fs.Changed("slo"), *quiet, stdout) // *slos is nil unless given
	}
	s, err := runner.Rebuild{From: *from, To: *to, SLOs: *slos, SLOsSet: fs.Changed("slo"), Window: *sloWindow, WindowSet: fs.Changed("slo-window")}.Run(fs.Arg(0))
	if err != nil {
		return err
	}
	if !*quiet {
		if err := report.WriteText(stdout, s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Reports rebuilt in %s (%s)\n", fs.Arg(0), time.Now().Format(time.RFC3339))
	}
	return sloVerdict(s)
}
