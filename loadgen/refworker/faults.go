package refworker

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// faultUsage documents every --fault mode (printed by FlagUsage).
const faultUsage = `Fault modes (--fault NAME[=VALUE], repeatable; N counts InvocationRequests received, from 1):
  exit-at-start[=CODE]  print a line on stderr and exit with CODE (default 3) before connecting
  slow-start=D          sleep D before connecting
  no-start-stream       connect and open the stream but never send StartStream; stay alive
  hang-init             never answer WorkerInitRequest
  fail-init             answer WorkerInitRequest with status Failure
  fail-init-every=N:FILE  fail every Nth start's WorkerInitRequest (starts are counted in FILE, one byte each)
  fail-reload           answer FunctionEnvironmentReloadRequest with status Failure (cannot be specialized)
  fail-load=FUNCTION    answer FUNCTION's FunctionLoadRequest with status Failure (repeatable)
  hang-load             never answer FunctionLoadRequest
  hang-status           never answer WorkerStatusRequest
  crash-after=N         on receiving the Nth invocation, print a line on stderr and exit 3 at once, without answering it
  restart-after=N       on receiving the Nth invocation, exit 200 (the host's "intentional restart") without answering it
  pause=D@N             after the Nth invocation, send nothing for D, then send everything queued
  stop-reading@N        after the Nth invocation, never call Recv again (flow control fills); stay alive
  close-stream@N        on the Nth invocation, CloseSend and exit 0, leaving it and any in flight unanswered
  drop-every=N          never answer every Nth invocation
  unknown-ids           answer each invocation with a fresh random invocation_id instead of its own
  duplicate-ids         answer each invocation twice
  empty-ids             answer each invocation with an empty invocation_id
  late=D                answer every invocation D late (the delay ignores cancellation)
  ignore-cancel         ignore InvocationCancel entirely (no cancellation, no empty message), like Node
  ignore-terminate      ignore WorkerTerminate and keep running until killed
  leak=BYTES            keep BYTES of touched memory per invocation forever (RSS grows)
  empty-messages        also send a StreamingMessage with no content per invocation
  unknown-messages      also send a worker_init_request (never sent by workers) per invocation
  log-flood=N           send N System RpcLogs per second for the whole run
  big-response=BYTES    echo and work answer with a body of exactly BYTES bytes
  With --http=proxy (HttpUri):
  http-no-invocation-response  answer the HTTP request, never send the InvocationResponse
  http-no-response      send the InvocationResponse, never answer the HTTP request
  http-reset            close the HTTP connection without a response (the InvocationResponse says Success)
  http-uri=URI          advertise URI as HttpUri instead of the worker's own server (e.g. a closed port)
`

// pauseFault is one pause=D@N.
type pauseFault struct {
	d time.Duration
	n int64
}

// faults holds the parsed --fault settings; zero values mean "off".
type faults struct {
	exitAtStart              bool
	exitCode                 int
	slowStart                time.Duration
	noStartStream            bool
	hangInit                 bool
	failInit                 bool
	failInitEvery            int64  // fail-init-every: every Nth start (counted in failInitFile)
	failInitFile             string //
	failReload               bool
	failLoad                 map[string]bool // lower-cased function names
	hangLoad                 bool
	hangStatus               bool
	crashAfter               int64
	restartAfter             int64
	pauses                   []pauseFault
	stopReadingAt            int64
	closeStreamAt            int64
	dropEvery                int64
	unknownIDs               bool
	duplicateIDs             bool
	emptyIDs                 bool
	late                     time.Duration
	ignoreCancel             bool
	ignoreTerminate          bool
	leak                     int
	emptyMessages            bool
	unknownMessages          bool
	logFlood                 int
	bigResponse              int // -1 = off
	httpNoInvocationResponse bool
	httpNoResponse           bool
	httpReset                bool
	httpURI                  string
}

// parseFaults parses every --fault value.
func parseFaults(specs []string) (faults, error) {
	f := faults{bigResponse: -1, exitCode: 3}
	for _, spec := range specs {
		if err := f.add(spec); err != nil {
			return f, fmt.Errorf("invalid --fault %q: %v", spec, err)
		}
	}
	return f, nil
}

// add parses one --fault NAME[=VALUE] (or NAME@N) into f: a fault that is on or off, counted,
// or a duration is found in its table; the others parse their own values.
func (f *faults) add(spec string) error {
	a := splitFault(spec)
	if set, ok := f.switches()[a.name]; ok {
		return a.on(set)
	}
	if dst, ok := f.counts()[a.name]; ok {
		return a.count(dst)
	}
	if dst, ok := f.durations()[a.name]; ok {
		return a.duration(dst)
	}
	switch a.name {
	case "exit-at-start":
		return f.setExitAtStart(a)
	case "fail-init-every":
		return f.parseFailInitEvery(a.val)
	case "fail-load":
		return f.addFailLoad(a)
	case "http-uri":
		if !a.hasVal || a.val == "" {
			return fmt.Errorf("want http-uri=URI")
		}
		f.httpURI = a.val
		return nil
	case "pause":
		return f.addPause(a)
	case "log-flood":
		var n int64
		if err := a.count(&n); err != nil {
			return fmt.Errorf("want log-flood=N with N >= 1 (lines per second)")
		}
		f.logFlood = int(n)
		return nil
	case "leak":
		return a.size(&f.leak, 1)
	case "big-response":
		return a.size(&f.bigResponse, 0)
	}
	return fmt.Errorf("unknown fault %q (see --help for the list)", a.name)
}

// switches are the faults that are on or off, by name.
func (f *faults) switches() map[string]*bool {
	return map[string]*bool{
		"no-start-stream":             &f.noStartStream,
		"hang-init":                   &f.hangInit,
		"fail-init":                   &f.failInit,
		"fail-reload":                 &f.failReload,
		"http-no-invocation-response": &f.httpNoInvocationResponse,
		"http-no-response":            &f.httpNoResponse,
		"http-reset":                  &f.httpReset,
		"hang-load":                   &f.hangLoad,
		"hang-status":                 &f.hangStatus,
		"unknown-ids":                 &f.unknownIDs,
		"duplicate-ids":               &f.duplicateIDs,
		"empty-ids":                   &f.emptyIDs,
		"ignore-cancel":               &f.ignoreCancel,
		"ignore-terminate":            &f.ignoreTerminate,
		"empty-messages":              &f.emptyMessages,
		"unknown-messages":            &f.unknownMessages,
	}
}

// counts are the faults that take an invocation count N (NAME@N or NAME=N), by name.
func (f *faults) counts() map[string]*int64 {
	return map[string]*int64{
		"crash-after":   &f.crashAfter,
		"restart-after": &f.restartAfter,
		"stop-reading":  &f.stopReadingAt,
		"close-stream":  &f.closeStreamAt,
		"drop-every":    &f.dropEvery,
	}
}

// durations are the faults that take a duration, by name.
func (f *faults) durations() map[string]*time.Duration {
	return map[string]*time.Duration{
		"slow-start": &f.slowStart,
		"late":       &f.late,
	}
}

// setExitAtStart parses exit-at-start[=CODE].
func (f *faults) setExitAtStart(a faultArg) error {
	f.exitAtStart = true
	if a.hasVal {
		c, err := strconv.Atoi(a.val)
		if err != nil || c < 0 || c > 255 {
			return fmt.Errorf("want exit-at-start[=CODE] with CODE in 0..255")
		}
		f.exitCode = c
	}
	return nil
}

// addFailLoad parses one fail-load=FUNCTION.
func (f *faults) addFailLoad(a faultArg) error {
	if !a.hasVal || a.val == "" {
		return fmt.Errorf("want fail-load=FUNCTION")
	}
	if f.failLoad == nil {
		f.failLoad = map[string]bool{}
	}
	f.failLoad[strings.ToLower(a.val)] = true
	return nil
}

// addPause parses one pause=D@N.
func (f *faults) addPause(a faultArg) error {
	ds, ns, ok := strings.Cut(a.val, "@")
	d, err1 := time.ParseDuration(ds)
	n, err2 := strconv.ParseInt(ns, 10, 64)
	if !a.hasVal || !ok || err1 != nil || err2 != nil || d <= 0 || n < 1 {
		return fmt.Errorf("want pause=DURATION@N with DURATION > 0 and N >= 1")
	}
	f.pauses = append(f.pauses, pauseFault{d: d, n: n})
	return nil
}

// faultArg is one --fault split at its first '=' or '@'.
type faultArg struct {
	name, val string
	hasVal    bool
}

func splitFault(spec string) faultArg {
	if i := strings.IndexAny(spec, "=@"); i >= 0 {
		return faultArg{name: spec[:i], val: spec[i+1:], hasVal: true}
	}
	return faultArg{name: spec}
}

// on sets a fault that takes no value.
func (a faultArg) on(set *bool) error {
	if a.hasVal {
		return fmt.Errorf("%s takes no value", a.name)
	}
	*set = true
	return nil
}

// count parses N >= 1.
func (a faultArg) count(dst *int64) error {
	n, err := strconv.ParseInt(a.val, 10, 64)
	if !a.hasVal || err != nil || n < 1 {
		return fmt.Errorf("want %s@N or %s=N with N >= 1", a.name, a.name)
	}
	*dst = n
	return nil
}

// size parses a byte count of at least min.
func (a faultArg) size(dst *int, min int) error {
	n, err := parseSize(a.val)
	if !a.hasVal || err != nil || n < min {
		return fmt.Errorf("want %s=BYTES with BYTES >= %d (suffixes k, Ki, M, Mi, G, Gi allowed)", a.name, min)
	}
	*dst = n
	return nil
}

// duration parses a duration that is not negative.
func (a faultArg) duration(dst *time.Duration) error {
	d, err := time.ParseDuration(a.val)
	if !a.hasVal || err != nil || d < 0 {
		return fmt.Errorf("want %s=DURATION (e.g. 500ms), not negative", a.name)
	}
	*dst = d
	return nil
}

// parseSize parses a byte count with an optional k/M/G (1000) or Ki/Mi/Gi (1024) suffix.
func parseSize(s string) (int, error) {
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30},
		{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int(n * mult), nil
}
