package refworker

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/dist"
)

// WorkerVersion is reported in WorkerInitResponse.
const WorkerVersion = "1.0.0"

// RuntimeName is reported as worker_metadata.runtime_name and as the function language.
const RuntimeName = "fbench-reference"

// logPrefix starts every line the worker prints on stderr.
const logPrefix = "fbench-worker: "

// exitProcess is what crash faults call; a variable so it is visible where the
// process dies.
var exitProcess = os.Exit

// config is the parsed command line.
type config struct {
	endpoint       string // host:port
	workerID       string
	requestID      string
	maxMsg         int
	service        dist.Dist
	cpuWork        bool
	maxConc        int
	inline         bool // answer invocations that never wait on the read loop
	mimic          string
	defaultIndex   bool
	userLogs       int
	systemLogs     int
	respSize       int
	seed           uint64
	connectTimeout time.Duration
	shutdownGrace  time.Duration
	faults         faults
	cpuProfile     string
	failVaried     bool          // fail throws one of several exceptions, logs an error before and a line after
	httpProxy      bool          // HTTP proxying mode: advertise HttpUri and serve HTTP functions on it
	pairTimeout    time.Duration // how long one side of a proxied invocation waits for the other
	costs          startCosts
}

// flagVars receives the raw flag values.
type flagVars struct {
	host, uri                 string
	port                      int
	workerID, fWorkerID       string
	requestID, fRequestID     string
	maxMsg, fMaxMsg           int
	service                   dist.Dist
	work, mimic               string
	maxConc                   int
	dispatch                  string
	defaultIndex              bool
	userLogs, systemLogs      int
	respSize                  string
	failMode                  string
	seed                      uint64
	connectTimeout, shutGrace time.Duration
	faults                    []string
	cpuProfile                string
	http                      string
	pairTimeout               time.Duration
	startDelay, loadDelay     dist.Dist
	reloadDelay               dist.Dist
}

func newFlagSet(v *flagVars) *pflag.FlagSet {
	fs := pflag.NewFlagSet("fbench worker", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}

	// Appended by the host (protocol.md §2.2); the --functions-* copy wins.
	fs.StringVar(&v.uri, "functions-uri", "", "`URI` of the host's gRPC endpoint, e.g. http://127.0.0.1:PORT/ (set by the host)")
	fs.StringVar(&v.fWorkerID, "functions-worker-id", "", "worker `ID` sent in StartStream (set by the host)")
	fs.StringVar(&v.fRequestID, "functions-request-id", "", "request `ID` sent as StartStream's request_id (set by the host)")
	fs.IntVar(&v.fMaxMsg, "functions-grpc-max-message-length", 0, "max gRPC message size in `BYTES`, both directions (set by the host; default 2147483647)")
	fs.StringVar(&v.host, "host", "", "legacy: `HOST` of the gRPC endpoint, used with --port when --functions-uri is absent")
	fs.IntVar(&v.port, "port", 0, "legacy: `PORT` of the gRPC endpoint")
	fs.StringVar(&v.workerID, "workerId", "", "legacy: worker `ID`, used when --functions-worker-id is absent")
	fs.StringVar(&v.requestID, "requestId", "", "legacy: request `ID`, used when --functions-request-id is absent")
	fs.IntVar(&v.maxMsg, "grpcMaxMessageLength", 0, "legacy: max gRPC message size in `BYTES`, used when --functions-grpc-max-message-length is absent")

	// Behaviour of the worker itself (the harness passes --ref KEY=VALUE as --KEY=VALUE).
	v.service = dist.NewFixed(0)
	fs.Var(&v.service, "service-time", "service time `DIST` of the work function: 10ms, uniform:MIN-MAX, exp:MEAN, normal:MEAN,SD or lognormal:MEDIAN,P99")
	fs.StringVar(&v.work, "work", "sleep", "how work spends its service time (`MODE`): sleep, or cpu (burn one core)")
	fs.StringVar(&v.dispatch, "dispatch", "goroutine", "how invocations run: goroutine (each on its own, like the .NET worker's Task.Run), or inline (functions that never wait run on the read loop, like an event loop: the zero-work mode of the harness benchmarks)")
	fs.IntVar(&v.maxConc, "max-concurrency", 0, "at most `N` invocations run at once; the others wait in the worker, cancellable (0 = unlimited)")
	fs.StringVar(&v.mimic, "mimic", "dotnet", "`RUNTIME` whose capability set is advertised: dotnet (isolated), node, python, java, powershell, or node-stream / python-stream (Node v4 with enableHttpStream, Python with HTTP streaming: HTTP proxying mode)")
	fs.StringVar(&v.http, "http", "rpc", "how HTTP functions are served (`MODE`): rpc (RpcHttp over the stream) or proxy (advertise HttpUri, serve the forwarded requests on 127.0.0.1 and pair them by x-ms-invocation-id)")
	fs.DurationVar(&v.pairTimeout, "http-pair-timeout", 5*time.Second, "proxy mode: how long one side of an invocation waits for the other (the .NET coordinator's 5 s) before failing it")
	fs.BoolVar(&v.defaultIndex, "use-default-indexing", false, "answer FunctionsMetadataRequest with use_default_metadata_indexing=true and no functions")
	fs.IntVar(&v.userLogs, "logs-per-invocation", 0, "send `N` User RpcLogs per invocation (with its invocation_id) before its response")
	fs.IntVar(&v.systemLogs, "system-logs-per-invocation", 0, "send `N` System RpcLogs per invocation (Node and Python send 1, Java 2)")
	fs.StringVar(&v.respSize, "response-size", "0", "append `BYTES` to the body echo and work return (k, Ki, M, Mi suffixes allowed)")
	fs.StringVar(&v.failMode, "fail-mode", "fixed", "how the fail function fails (`MODE`): fixed (one exception), or varied (one of three exception types whose messages carry numbers and ids, an Error log before the response and an Information log after it)")
	fs.Uint64Var(&v.seed, "seed", 0, "random `SEED` for service-time sampling (0 = random)")
	fs.DurationVar(&v.connectTimeout, "connect-timeout", 10*time.Second, "exit 1 if the host cannot be reached within `D`")
	fs.DurationVar(&v.shutGrace, "shutdown-grace", 5*time.Second, "let in-flight invocations finish for `D` after a WorkerTerminate without grace_period")
	fs.Var(&v.startDelay, "start-delay", "sleep `DIST` after starting, before connecting (a runtime and app starting up)")
	fs.Var(&v.loadDelay, "load-delay", "answer each FunctionLoadRequest `DIST` after it arrives, one at a time")
	fs.Var(&v.reloadDelay, "reload-delay", "answer FunctionEnvironmentReloadRequest `DIST` after it arrives (placeholder specialization)")
	fs.StringVar(&v.cpuProfile, "cpuprofile", "", "write a Go CPU profile of this worker to `FILE` (for `go tool pprof`)")
	fs.StringArrayVar(&v.faults, "fault", nil, "misbehave on purpose: `NAME[=VALUE]`, repeatable (see the fault modes below)")
	return fs
}

// FlagUsage describes every flag and fault mode, for the CLI's help and the README.
func FlagUsage() string {
	var v flagVars
	fs := newFlagSet(&v)
	return "Usage: fbench worker [worker flags] [host args]\n\n" +
		"Runs fbench's reference language worker. The host appends --host, --port, --workerId, --requestId,\n" +
		"--grpcMaxMessageLength and their --functions-* twins; the --functions-* values are preferred.\n" +
		"Built-in functions: echo, work, fail, status (?code=N), item (route items/{id}) (HTTP triggers), queue (queue trigger).\n\n" +
		"Flags:\n" + fs.FlagUsagesWrapped(0) + "\n" + faultUsage
}

// parseArgs parses and validates the command line. The checks run in a fixed order: the first
// invalid value is the one reported.
func parseArgs(args []string) (*config, error) {
	var v flagVars
	fs := newFlagSet(&v)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if v.failMode != "fixed" && v.failMode != "varied" {
		return nil, fmt.Errorf("invalid --fail-mode %q: want fixed or varied", v.failMode)
	}
	c := v.config()
	if err := c.setHTTP(&v); err != nil {
		return nil, err
	}
	var err error
	if c.endpoint, err = v.endpoint(fs); err != nil {
		return nil, err
	}
	if err := c.setIdentity(&v, fs); err != nil {
		return nil, err
	}
	if err := c.setWorkload(&v); err != nil {
		return nil, err
	}
	if v.connectTimeout <= 0 {
		return nil, fmt.Errorf("invalid --connect-timeout %s: want > 0", v.connectTimeout)
	}
	if v.shutGrace < 0 {
		return nil, fmt.Errorf("invalid --shutdown-grace %s: must not be negative", v.shutGrace)
	}
	if c.faults, err = parseFaults(v.faults); err != nil {
		return nil, err
	}
	return c, nil
}

// config is the configuration the flag values give as they are, before the checks.
func (v *flagVars) config() *config {
	return &config{
		service:        v.service,
		maxConc:        v.maxConc,
		inline:         v.dispatch == "inline",
		mimic:          strings.ToLower(v.mimic),
		defaultIndex:   v.defaultIndex,
		userLogs:       v.userLogs,
		systemLogs:     v.systemLogs,
		seed:           v.seed,
		failVaried:     v.failMode == "varied",
		connectTimeout: v.connectTimeout,
		shutdownGrace:  v.shutGrace,
		cpuProfile:     v.cpuProfile,
		pairTimeout:    v.pairTimeout,
		costs:          startCosts{start: v.startDelay, load: v.loadDelay, reload: v.reloadDelay},
	}
}

// setHTTP sets HTTP proxying mode from --http (and the streaming --mimic runtimes) and checks
// --http-pair-timeout.
func (c *config) setHTTP(v *flagVars) error {
	switch v.http {
	case "rpc":
	case "proxy":
		c.httpProxy = true
	default:
		return fmt.Errorf("invalid --http %q: want rpc or proxy", v.http)
	}
	if c.mimic == "node-stream" || c.mimic == "python-stream" {
		c.httpProxy = true
	}
	if v.pairTimeout <= 0 {
		return fmt.Errorf("invalid --http-pair-timeout %s: want > 0", v.pairTimeout)
	}
	return nil
}

// endpoint is the host's gRPC endpoint as host:port: --functions-uri, else --host + --port.
func (v *flagVars) endpoint(fs *pflag.FlagSet) (string, error) {
	switch {
	case v.uri != "":
		u, err := url.Parse(v.uri)
		if err != nil || u.Hostname() == "" {
			return "", fmt.Errorf("invalid --functions-uri %q: want http://HOST:PORT/", v.uri)
		}
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		return net.JoinHostPort(u.Hostname(), port), nil
	case v.host != "" && fs.Changed("port"):
		if v.port <= 0 || v.port > 65535 {
			return "", fmt.Errorf("invalid --port %d", v.port)
		}
		return net.JoinHostPort(v.host, strconv.Itoa(v.port)), nil
	}
	return "", errors.New("missing host endpoint: pass --functions-uri (or --host and --port)")
}

// setIdentity sets what the host appended besides the endpoint: the worker and request ids and
// the gRPC message size limit, each --functions-* value preferred to its legacy twin.
func (c *config) setIdentity(v *flagVars, fs *pflag.FlagSet) error {
	c.workerID = cmp(v.fWorkerID, v.workerID)
	if c.workerID == "" {
		return errors.New("missing worker id: pass --functions-worker-id (or --workerId)")
	}
	c.requestID = cmp(v.fRequestID, v.requestID)

	c.maxMsg = math.MaxInt32
	for _, name := range []string{"grpcMaxMessageLength", "functions-grpc-max-message-length"} {
		if !fs.Changed(name) {
			continue
		}
		n := v.maxMsg
		if name != "grpcMaxMessageLength" {
			n = v.fMaxMsg
		}
		if n <= 0 {
			return fmt.Errorf("invalid --%s %d: want > 0", name, n)
		}
		c.maxMsg = n
	}
	return nil
}

// setWorkload checks how the worker behaves: --dispatch, --work, --mimic, the counts that must
// not be negative, and --response-size.
func (c *config) setWorkload(v *flagVars) error {
	if v.dispatch != "goroutine" && v.dispatch != "inline" {
		return fmt.Errorf("invalid --dispatch %q: want goroutine or inline", v.dispatch)
	}
	switch v.work {
	case "sleep":
	case "cpu":
		c.cpuWork = true
	default:
		return fmt.Errorf("invalid --work %q: want sleep or cpu", v.work)
	}
	if _, ok := capabilitySets[c.mimic]; !ok {
		return fmt.Errorf("invalid --mimic %q: want dotnet, node, python, java, powershell, node-stream or python-stream", v.mimic)
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max-concurrency", v.maxConc}, {"logs-per-invocation", v.userLogs}, {"system-logs-per-invocation", v.systemLogs}} {
		if n.v < 0 {
			return fmt.Errorf("invalid --%s %d: must not be negative", n.name, n.v)
		}
	}
	rs, err := parseSize(v.respSize)
	if err != nil {
		return fmt.Errorf("invalid --response-size %q: want a byte count >= 0", v.respSize)
	}
	c.respSize = rs
	return nil
}

// cmp returns the first non-empty string.
func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lockedWriter serialises writes to stderr from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Main runs the worker with args (without "fbench worker") and returns the
// process exit code: 0 after WorkerTerminate or a clean end of the stream
// (or --help), 1 for bad arguments, connection failures and stream errors,
// 3 (or the given code) for the crash faults. crash-after calls os.Exit itself.
func Main(args []string, stdout, stderr io.Writer) int {
	if stderr == nil {
		stderr = io.Discard
	}
	cfg, err := parseArgs(args)
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprint(stdout, FlagUsage())
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s%v\n", logPrefix, err)
		return 1
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s--cpuprofile: %v\n", logPrefix, err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	return run(cfg, &lockedWriter{w: stderr})
}
