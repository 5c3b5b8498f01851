package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io"

	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/slo"
)

//go:embed help/merge-usage.txt
var mergeUsage string

func cmdMerge(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("merge", mergeUsage, stderr)
	out := fs.String("out", "", "the merged run directory (default fbench-results/merged-<UTC timestamp>)")
	force := fs.Bool("force", false, "merge runs whose plans differ (their interval lengths must still agree)")
	quiet := fs.BoolP("quiet", "q", false, "do not print the summary")
	slos := fs.StringArray("slo", nil, sloFlagHelp+"; replaces the runs' own")
	sloWindow := fs.Duration("slo-window", 0, sloWindowHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return errors.New("merge takes two or more run directories (see 'fbench merge --help')")
	}
	dir := *out
	if dir == "" {
		dir = runner.DefaultOut("merged-")
	}
	if err := runner.CheckOutDir(dir); err != nil {
		return err
	}
	runs, err := report.ExpandRuns(fs.Args())
	if err != nil {
		return err
	}
	sp, err := slo.PlanFor(runs[0], *slos, fs.Changed("slo"), *sloWindow, fs.Changed("slo-window"))
	if err != nil {
		return err
	}
	mo := report.MergeOptions{Out: dir, Force: *force, Version: version}
	sp.AddToMerge(&mo)
	res, err := report.Merge(runs, mo)
	if res != nil {
		for _, n := range res.Notes {
			fmt.Fprintf(stderr, "fbench: note: %s\n", n)
		}
	}
	if err != nil {
		return err
	}
	if !*quiet {
		if err := report.WriteText(stdout, res.Summary); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Merged %d runs into %s\n", len(runs), dir)
	}
	return mergeVerdict(res.Summary)
}

// mergeVerdict is merge's exit code, as compare judges its runs: 4 when a merged run's worker
// crashed, 3 when the merged run is invalid (one of its runs was), 2 when an SLO failed.
func mergeVerdict(s *report.Summary) error {
	if s.Worker.Crashed {
		return withCode(exitCrashed, errors.New("merged: a worker crashed during one of the runs (see runs[] and the events)"))
	}
	if !s.Harness.Valid {
		return withCode(exitInvalid, fmt.Errorf("merged run invalid: %s", s.Harness.InvalidReason))
	}
	return sloVerdict(s)
}
