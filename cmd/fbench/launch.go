package main

import (
	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/runner"
)

// registerWorker binds the flags of every verb that launches a worker to ws.
func registerWorker(fs *pflag.FlagSet, ws *runner.WorkerSettings) {
	d := runner.Defaults().Worker
	fs.StringVar(&ws.App, "app", "", "function app `DIR` (the worker's cwd; default: the worker directory)")
	fs.StringArrayVar(&ws.Env, "env", nil, "extra environment `KEY=VALUE` for the worker (repeatable)")
	fs.StringArrayVar(&ws.EnvUnset, "env-unset", nil, "remove `KEY` from the environment the worker inherits from fbench (repeatable)")
	fs.BoolVar(&ws.EnvClean, "env-clean", false, "the worker inherits nothing from fbench: only what the host sets, plus --env")
	fs.StringVar(&ws.Indexing, "indexing", d.Indexing, "function discovery: auto (as worker.config.json says), worker, or host (function.json)")
	fs.DurationVar(&ws.StartTimeout, "start-timeout", d.StartTimeout, "how long the worker may take to open its stream")
	fs.DurationVar(&ws.InitTimeout, "init-timeout", 0, "how long WorkerInitRequest may take (default: worker.config.json's, else 10s)")
	fs.StringVar(&ws.Language, "language", "", "FUNCTIONS_WORKER_RUNTIME for an executable WORKER")
	fs.StringVar(&ws.HostVersion, "host-version", d.HostVersion, "host version announced in WorkerInitRequest")
	fs.StringArrayVar(&ws.Ref, "ref", nil, "reference worker setting `KEY=VALUE` (repeatable; see 'fbench worker --help')")
}

// registerProcesses binds the flags of every verb that can launch several worker processes to ps;
// --processes is a count (run, probe) or a list (capacity).
func registerProcesses(fs *pflag.FlagSet, ps *runner.ProcessSettings) {
	fs.StringVar(&ps.Count, "processes", "", "worker processes `N` to run, as the host's FUNCTIONS_WORKER_PROCESS_COUNT (default: that setting from --env or the environment, else worker.config.json's processOptions, else 1)")
	fs.DurationVar(&ps.StartInterval, "process-start-interval", 0, "time between one process's WorkerInitResponse and the next process's start (default: processOptions.processStartupInterval, else the host's 10s; 5s for an executable without worker.config.json)")
	fs.DurationVar(&ps.RestartInterval, "process-restart-interval", 0, "with --restart-worker: time after one relaunch before the next (default: processOptions.processRestartInterval, else the host's 10s; 5s without worker.config.json)")
}

// registerRequest binds the flags of the invocations' payload to r; body says what the body is.
func registerRequest(fs *pflag.FlagSet, r *runner.Request, body string) {
	fs.StringVar(&r.Body, "body", "", body)
	fs.StringVar(&r.BodyFile, "body-file", "", "read the request body from `FILE`")
	fs.StringVar(&r.Method, "method", "", "HTTP method (default POST with a body, GET without)")
	fs.StringArrayVar(&r.Headers, "header", nil, "HTTP header `K:V` (repeatable)")
	fs.StringArrayVar(&r.Query, "query", nil, "query parameter `K=V` (repeatable)")
}

// processesGiven marks the process flags that were given: only those count.
func processesGiven(fs *pflag.FlagSet, ps *runner.ProcessSettings) {
	ps.CountSet, ps.StartIntervalSet = fs.Changed("processes"), fs.Changed("process-start-interval")
	ps.RestartIntervalSet = fs.Changed("process-restart-interval")
}
