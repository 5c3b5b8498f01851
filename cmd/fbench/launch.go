package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/runner"
)

// workerFlags are the flags of every verb that launches a worker.
type workerFlags struct{ runner.WorkerSettings }

func (wf *workerFlags) register(fs *pflag.FlagSet) {
	d := runner.Defaults().Worker
	fs.StringVar(&wf.App, "app", "", "function app `DIR` (the worker's cwd; default: the worker directory)")
	fs.StringArrayVar(&wf.Env, "env", nil, "extra environment `KEY=VALUE` for the worker (repeatable)")
	fs.StringArrayVar(&wf.EnvUnset, "env-unset", nil, "remove `KEY` from the environment the worker inherits from fbench (repeatable)")
	fs.BoolVar(&wf.EnvClean, "env-clean", false, "the worker inherits nothing from fbench: only what the host sets, plus --env")
	fs.StringVar(&wf.Indexing, "indexing", d.Indexing, "function discovery: auto (as worker.config.json says), worker, or host (function.json)")
	fs.DurationVar(&wf.StartTimeout, "start-timeout", d.StartTimeout, "how long the worker may take to open its stream")
	fs.DurationVar(&wf.InitTimeout, "init-timeout", 0, "how long WorkerInitRequest may take (default: worker.config.json's, else 10s)")
	fs.StringVar(&wf.Language, "language", "", "FUNCTIONS_WORKER_RUNTIME for an executable WORKER")
	fs.StringVar(&wf.HostVersion, "host-version", d.HostVersion, "host version announced in WorkerInitRequest")
	fs.StringArrayVar(&wf.Ref, "ref", nil, "reference worker setting `KEY=VALUE` (repeatable; see 'fbench worker --help')")
}

// settings are the worker's settings: the flags, and the WORKER argument and what follows "--".
func (wf *workerFlags) settings(positional []string) runner.WorkerSettings {
	s := wf.WorkerSettings
	s.Command = positional
	return s
}

// options turns the flags and the WORKER argument into host options. It starts nothing.
func (wf *workerFlags) options(positional []string) (host.Options, error) {
	return runner.HostOptions(wf.settings(positional))
}

// processFlags are the flags of every verb that can launch several worker processes.
type processFlags struct {
	processes       string // a count (run, probe) or a list (capacity)
	startInterval   time.Duration
	restartInterval time.Duration
}

func (pf *processFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&pf.processes, "processes", "", "worker processes `N` to run, as the host's FUNCTIONS_WORKER_PROCESS_COUNT (default: that setting from --env or the environment, else worker.config.json's processOptions, else 1)")
	fs.DurationVar(&pf.startInterval, "process-start-interval", 0, "time between one process's WorkerInitResponse and the next process's start (default: processOptions.processStartupInterval, else the host's 10s; 5s for an executable without worker.config.json)")
	fs.DurationVar(&pf.restartInterval, "process-restart-interval", 0, "with --restart-worker: time after one relaunch before the next (default: processOptions.processRestartInterval, else the host's 10s; 5s without worker.config.json)")
}

// settings are the processes asked for (a flag counts only when it was given).
func (pf *processFlags) settings(fs *pflag.FlagSet) runner.ProcessSettings {
	return runner.ProcessSettings{Count: pf.processes, CountSet: fs.Changed("processes"),
		StartInterval: pf.startInterval, StartIntervalSet: fs.Changed("process-start-interval"),
		RestartInterval: pf.restartInterval, RestartIntervalSet: fs.Changed("process-restart-interval")}
}
