package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/host"
)

// workerFlags are the flags of every verb that launches a worker.
type workerFlags struct {
	app          string
	env          []string
	envUnset     []string
	envClean     bool
	indexing     string
	startTimeout time.Duration
	initTimeout  time.Duration
	language     string
	hostVersion  string
	ref          []string
}

func (wf *workerFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&wf.app, "app", "", "function app `DIR` (the worker's cwd; default: the worker directory)")
	fs.StringArrayVar(&wf.env, "env", nil, "extra environment `KEY=VALUE` for the worker (repeatable)")
	fs.StringArrayVar(&wf.envUnset, "env-unset", nil, "remove `KEY` from the environment the worker inherits from fbench (repeatable)")
	fs.BoolVar(&wf.envClean, "env-clean", false, "the worker inherits nothing from fbench: only what the host sets, plus --env")
	fs.StringVar(&wf.indexing, "indexing", "auto", "function discovery: auto (as worker.config.json says), worker, or host (function.json)")
	fs.DurationVar(&wf.startTimeout, "start-timeout", host.DefaultStartTimeout, "how long the worker may take to open its stream")
	fs.DurationVar(&wf.initTimeout, "init-timeout", 0, "how long WorkerInitRequest may take (default: worker.config.json's, else 10s)")
	fs.StringVar(&wf.language, "language", "", "FUNCTIONS_WORKER_RUNTIME for an executable WORKER")
	fs.StringVar(&wf.hostVersion, "host-version", host.DefaultHostVersion, "host version announced in WorkerInitRequest")
	fs.StringArrayVar(&wf.ref, "ref", nil, "reference worker setting `KEY=VALUE` (repeatable; see 'fbench worker --help')")
}

// options turns the flags and the WORKER argument (and what follows "--") into host options.
// It starts nothing.
func (wf *workerFlags) options(positional []string) (host.Options, error) {
	var opt host.Options
	ix, err := host.ParseIndexing(wf.indexing)
	if err != nil {
		return opt, err
	}
	for _, kv := range wf.env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return opt, fmt.Errorf("invalid --env %q: want KEY=VALUE", kv)
		}
	}
	for _, k := range wf.envUnset {
		if k == "" || strings.Contains(k, "=") {
			return opt, fmt.Errorf("invalid --env-unset %q: want a variable name", k)
		}
	}
	if wf.startTimeout <= 0 {
		return opt, fmt.Errorf("invalid --start-timeout %s: must be positive", wf.startTimeout)
	}
	if wf.initTimeout < 0 {
		return opt, fmt.Errorf("invalid --init-timeout %s: must be positive", wf.initTimeout)
	}
	if wf.hostVersion == "" {
		return opt, fmt.Errorf("--host-version must not be empty")
	}
	opt = host.Options{
		Indexing: ix, HostVersion: wf.hostVersion, StartTimeout: wf.startTimeout, InitTimeout: wf.initTimeout,
		Launch: host.Launch{AppDir: wf.app, Env: wf.env, EnvUnset: wf.envUnset, EnvClean: wf.envClean, Language: wf.language},
	}
	switch {
	case len(positional) == 0:
		// The built-in reference worker: this binary, verb "worker", its settings from --ref.
		exe, err := os.Executable()
		if err != nil {
			return opt, fmt.Errorf("finding fbench's own executable for the reference worker: %w", err)
		}
		opt.Launch.Worker = exe
		opt.Launch.Args = append([]string{"worker"}, refArgs(wf.ref)...)
		if opt.Launch.Language == "" {
			opt.Launch.Language = "fbench-reference"
		}
		if ix == host.IndexingAuto {
			opt.Indexing = host.IndexingWorker
		}
	default:
		if len(wf.ref) > 0 {
			return opt, fmt.Errorf("--ref configures the built-in reference worker; it cannot be used with WORKER %s", positional[0])
		}
		opt.Launch.Worker = positional[0]
		opt.Launch.Args = positional[1:]
	}
	return opt, nil
}

// refArgs turns --ref KEY=VALUE settings into the reference worker's flags (--KEY=VALUE).
func refArgs(ref []string) []string {
	out := make([]string, 0, len(ref))
	for _, r := range ref {
		r = strings.TrimLeft(r, "-")
		out = append(out, "--"+r)
	}
	return out
}

// launchNotices are the lines fbench says about how it launched the worker, before measuring.
func launchNotices(c *host.Command) []string {
	out := append([]string(nil), c.Notices...)
	if c.IndexingRule != "" {
		out = append(out, c.IndexingRule)
	}
	return out
}
