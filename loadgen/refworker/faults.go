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

func (f *faults) add(spec string) error {
	name, val, hasVal := spec, "", false
	if i := strings.IndexAny(spec, "=@"); i >= 0 {
		name, val, hasVal = spec[:i], spec[i+1:], true
	}
	noValue := func(set *bool) error {
		if hasVal {
			return fmt.Errorf("%s takes no value", name)
		}
		*set = true
		return nil
	}
	count := func(dst *int64) error {
		n, err := strconv.ParseInt(val, 10, 64)
		if !hasVal || err != nil || n < 1 {
			return fmt.Errorf("want %s@N or %s=N with N >= 1", name, name)
		}
		*dst = n
		return nil
	}
	size := func(dst *int, min int) error {
		n, err := parseSize(val)
		if !hasVal || err != nil || n < min {
			return fmt.Errorf("want %s=BYTES with BYTES >= %d (suffixes k, Ki, M, Mi, G, Gi allowed)", name, min)
		}
		*dst = n
		return nil
	}
	duration := func(dst *time.Duration) error {
		d, err := time.ParseDuration(val)
		if !hasVal || err != nil || d < 0 {
			return fmt.Errorf("want %s=DURATION (e.g. 500ms), not negative", name)
		}
		*dst = d
		return nil
	}
	switch name {
	case "exit-at-start":
		f.exitAtStart = true
		if hasVal {
			c, err := strconv.Atoi(val)
			if err != nil || c < 0 || c > 255 {
				return fmt.Errorf("want exit-at-start[=CODE] with CODE in 0..255")
			}
			f.exitCode = c
		}
		return nil
	case "slow-start":
		return duration(&f.slowStart)
	case "no-start-stream":
		return noValue(&f.noStartStream)
	case "hang-init":
		return noValue(&f.hangInit)
	case "fail-init":
		return noValue(&f.failInit)
	case "fail-init-every":
		return f.parseFailInitEvery(val)
	case "fail-reload":
		return noValue(&f.failReload)
	case "fail-load":
		if !hasVal || val == "" {
			return fmt.Errorf("want fail-load=FUNCTION")
		}
		if f.failLoad == nil {
			f.failLoad = map[string]bool{}
		}
		f.failLoad[strings.ToLower(val)] = true
		return nil
	case "http-no-invocation-response":
		return noValue(&f.httpNoInvocationResponse)
	case "http-no-response":
		return noValue(&f.httpNoResponse)
	case "http-reset":
		return noValue(&f.httpReset)
	case "http-uri":
		if !hasVal || val == "" {
			return fmt.Errorf("want http-uri=URI")
		}
		f.httpURI = spec[len("http-uri="):]
		return nil
	case "hang-load":
		return noValue(&f.hangLoad)
	case "hang-status":
		return noValue(&f.hangStatus)
	case "crash-after":
		return count(&f.crashAfter)
	case "restart-after":
		return count(&f.restartAfter)
	case "pause":
		ds, ns, ok := strings.Cut(val, "@")
		d, err1 := time.ParseDuration(ds)
		n, err2 := strconv.ParseInt(ns, 10, 64)
		if !hasVal || !ok || err1 != nil || err2 != nil || d <= 0 || n < 1 {
			return fmt.Errorf("want pause=DURATION@N with DURATION > 0 and N >= 1")
		}
		f.pauses = append(f.pauses, pauseFault{d: d, n: n})
		return nil
	case "stop-reading":
		return count(&f.stopReadingAt)
	case "close-stream":
		return count(&f.closeStreamAt)
	case "drop-every":
		return count(&f.dropEvery)
	case "unknown-ids":
		return noValue(&f.unknownIDs)
	case "duplicate-ids":
		return noValue(&f.duplicateIDs)
	case "empty-ids":
		return noValue(&f.emptyIDs)
	case "late":
		return duration(&f.late)
	case "ignore-cancel":
		return noValue(&f.ignoreCancel)
	case "ignore-terminate":
		return noValue(&f.ignoreTerminate)
	case "leak":
		return size(&f.leak, 1)
	case "empty-messages":
		return noValue(&f.emptyMessages)
	case "unknown-messages":
		return noValue(&f.unknownMessages)
	case "log-flood":
		var n int64
		if err := count(&n); err != nil {
			return fmt.Errorf("want log-flood=N with N >= 1 (lines per second)")
		}
		f.logFlood = int(n)
		return nil
	case "big-response":
		return size(&f.bigResponse, 0)
	}
	return fmt.Errorf("unknown fault %q (see --help for the list)", name)
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
