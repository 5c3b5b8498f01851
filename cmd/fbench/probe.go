package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/fbench/fbench/loadgen/runner"
)

//go:embed help/probe-usage.txt
var probeUsage string

func cmdProbe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("probe", probeUsage, stderr)
	var wf workerFlags
	wf.register(fs)
	var pf processFlags
	pf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON (keys timeline, capabilities, functions, exit_code)")
	logPath := fs.String("worker-log", "", "write the worker's output and logs to `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opt, err := wf.options(fs.Args())
	if err != nil {
		return err
	}
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
		if err != nil {
			return fmt.Errorf("opening the worker log: %w", err)
		}
		defer f.Close()
		opt.Log = f
	}
	procs, err := runner.ResolveProcesses(pf.settings(fs), &opt)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := runner.Probe(ctx, opt, procs)
	if rep == nil {
		return err
	}
	if *asJSON {
		if jerr := rep.WriteJSON(stdout); jerr != nil {
			return jerr
		}
	} else {
		rep.WriteText(stdout)
	}
	return err
}
