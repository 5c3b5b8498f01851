package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"

	"github.com/fbench/fbench/loadgen/runner"
)

//go:embed help/probe-usage.txt
var probeUsage string

func cmdProbe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("probe", probeUsage, stderr)
	var ws runner.WorkerSettings
	registerWorker(fs, &ws)
	var ps runner.ProcessSettings
	registerProcesses(fs, &ps)
	asJSON := fs.Bool("json", false, "print JSON (keys timeline, capabilities, functions, exit_code)")
	logPath := fs.String("worker-log", "", "write the worker's output and logs to `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ws.Command = fs.Args()
	opt, err := runner.HostOptions(ws)
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
	processesGiven(fs, &ps)
	procs, err := runner.ResolveProcesses(ps, &opt)
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
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
