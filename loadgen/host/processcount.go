package host

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ProcessCountEnv is the app setting that sets how many worker processes the host runs.
const ProcessCountEnv = "FUNCTIONS_WORKER_PROCESS_COUNT"

// The host's defaults for several worker processes (WorkerProcessCountOptions).
const (
	DefaultMaxProcessCount        = 10
	DefaultProcessStartupInterval = 10 * time.Second
	DefaultProcessRestartInterval = 10 * time.Second
	// FallbackProcessInterval is the dispatcher's start and restart interval when the runtime has
	// no worker config (an executable worker here).
	FallbackProcessInterval = 5 * time.Second
)

// Processes is how many worker processes to run and how the host paces their starts and restarts.
type Processes struct {
	Count           int
	Max             int           // maxProcessCount
	StartInterval   time.Duration // processStartupInterval
	RestartInterval time.Duration // processRestartInterval
	Source          string        // where Count came from, for messages
}

// ResolveProcesses reads the process count as the host does: processOptions in worker.config.json
// (processCount, maxProcessCount, setProcessCountToNumberOfCpuCores), then FUNCTIONS_WORKER_PROCESS_COUNT
// from the worker's environment when it is non-empty: parsed as .NET's int.Parse parses (blanks
// around, an optional sign), a value of 1 or less becomes 1, and a value that is not a number or
// exceeds maxProcessCount is an error (the host drops the language). cfg is nil for an executable
// worker; cores is the number of CPU cores.
func ResolveProcesses(cfg *WorkerConfig, env []string, cores int) (Processes, error) {
	p := Processes{Count: 1, Max: DefaultMaxProcessCount, StartInterval: FallbackProcessInterval,
		RestartInterval: FallbackProcessInterval, Source: "the default"}
	if cfg != nil {
		o := cfg.ProcessOptions
		p.StartInterval, p.RestartInterval = DefaultProcessStartupInterval, DefaultProcessRestartInterval
		if o.MaxProcessCount != nil {
			p.Max = *o.MaxProcessCount
		}
		if o.ProcessCount != nil {
			p.Count, p.Source = *o.ProcessCount, "processOptions.processCount in worker.config.json"
		}
		if o.SetProcessCountToNumberOfCpuCores {
			p.Count, p.Source = cores, "processOptions.setProcessCountToNumberOfCpuCores in worker.config.json"
			p.Max = max(p.Max, cores)
		}
		for _, iv := range []struct {
			name, v string
			d       *time.Duration
		}{{"processStartupInterval", o.ProcessStartupInterval, &p.StartInterval}, {"processRestartInterval", o.ProcessRestartInterval, &p.RestartInterval}} {
			if iv.v == "" {
				continue
			}
			d, err := ParseTimeSpan(iv.v)
			if err != nil || d < 0 {
				return p, fmt.Errorf("worker.config.json processOptions.%s %q: want a time span like 00:00:10", iv.name, iv.v)
			}
			*iv.d = d
		}
	}
	if v, ok := lookupEnv(env, ProcessCountEnv); ok && v != "" {
		n, err := parseDotNetInt(v)
		if err != nil {
			return p, fmt.Errorf("%s=%q is not a whole number: the host would not start the worker", ProcessCountEnv, v)
		}
		if n > int64(p.Max) {
			return p, fmt.Errorf("%s=%s exceeds maxProcessCount %d: the host would not start the worker", ProcessCountEnv, v, p.Max)
		}
		p.Count, p.Source = int(max(n, 1)), ProcessCountEnv
	}
	if p.Count > p.Max {
		return p, fmt.Errorf("%s sets %d worker processes, above maxProcessCount %d", p.Source, p.Count, p.Max)
	}
	return p, nil
}

// lookupEnv finds KEY's value in KEY=VALUE pairs; the last one wins.
func lookupEnv(env []string, key string) (string, bool) {
	val, found := "", false
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			val, found = v, true
		}
	}
	return val, found
}

// parseDotNetInt parses s as .NET's int.Parse does with its default style: white space around,
// an optional leading sign, decimal digits, within 32 bits.
func parseDotNetInt(s string) (int64, error) {
	t := strings.Trim(s, " \t\n\v\f\r")
	if strings.HasPrefix(t, "+") {
		t = t[1:]
		if strings.HasPrefix(t, "-") || strings.HasPrefix(t, "+") {
			return 0, fmt.Errorf("invalid")
		}
	}
	n, err := strconv.ParseInt(t, 10, 32)
	if err != nil {
		return 0, err
	}
	return n, nil
}
