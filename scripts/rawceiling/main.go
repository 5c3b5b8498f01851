package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fbench/fbench/loadgen/guid"
	fbhost "github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
)

// The grpc options fbench uses (loadgen/host/server.go).
const (
	windowSize = 1 << 24
	bufferSize = 256 << 10
	maxMsg     = math.MaxInt32
)

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "host":
		os.Exit(hostMain(os.Args[2:], os.Stdout, os.Stderr))
	case "worker":
		os.Exit(workerMain(os.Args[2:], os.Stderr))
	default:
		usage(os.Stderr)
		os.Exit(2)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: rawceiling host [--duration 10s] [--depth 4096] [--body-bytes 0] [--pingpong 2s] [--json]")
	fmt.Fprintln(w, "       rawceiling worker --port P   (launched by host)")
}

// hostConfig is one run of the host side.
type hostConfig struct {
	Duration   time.Duration
	Warmup     time.Duration
	Depth      int // max in flight; 0 = unbounded (HTTP/2 flow control only)
	BodyBytes  int
	PingPong   time.Duration // depth-1 phase length; 0 = skip
	Procs      int           // host GOMAXPROCS; 0 = leave
	WorkerArgs []string      // extra worker flags (--mode, --procs, --gc)
	Exe        string        // worker executable; "" = os.Executable()
	Env        []string      // extra worker environment
	// WorkerCmd, when set, is another worker's command line (no shell; e.g. `fbench worker
	// --dispatch=inline`): it gets the Functions host's arguments, and the host runs the handshake
	// and invokes Function.
	WorkerCmd []string
	Function  string
	// Rate > 0 paces the sends open loop at that many per second (see sendPaced) instead of
	// keeping Depth in flight.
	Rate   float64
	Stderr io.Writer
}

// phase is what one measured window gives.
type phase struct {
	InvocationsPerS   float64 `json:"invocations_per_s"`
	HostCPUUsPerInv   float64 `json:"host_cpu_us_per_inv"`
	WorkerCPUUsPerInv float64 `json:"worker_cpu_us_per_inv"`
	MeanRTTUs         float64 `json:"mean_rtt_us"`
	// The host's context switches (voluntary and not, all threads) per invocation: its wake-ups.
	HostSwitchesPerInv float64 `json:"host_switches_per_inv"`
	// Paced sends (--rate): lag, actual − intended send time, in µs.
	LagP50Us    int64   `json:"lag_p50_us,omitempty"`
	LagP99Us    int64   `json:"lag_p99_us,omitempty"`
	LagMaxUs    int64   `json:"lag_max_us,omitempty"`
	Completed   int64   `json:"completed"`
	HostCores   float64 `json:"host_cpu_cores"`
	WorkerCores float64 `json:"worker_cpu_cores"`
}

// Result is the JSON object `host --json` prints.
type Result struct {
	phase
	Depth     int     `json:"depth"`
	DurationS float64 `json:"duration_s"`
	BodyBytes int     `json:"body_bytes"`
	Failed    int64   `json:"failed"` // responses without status Success (expected 0)
	GOGC      int     `json:"gogc"`   // host and worker; 0 = Go's default
	Procs     int     `json:"gomaxprocs"`
	Mode      string  `json:"worker_mode"`
	Rate      float64 `json:"rate,omitempty"` // paced sends per second; 0: closed at Depth
	PingPong  *phase  `json:"pingpong,omitempty"`
}

func hostMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("host", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := hostConfig{Stderr: stderr}
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured warm-up before the window")
	fs.IntVar(&cfg.Depth, "depth", 4096, "max invocations in flight (0 = unbounded)")
	fs.IntVar(&cfg.BodyBytes, "body-bytes", 0, "HTTP request body size (echoed back)")
	fs.DurationVar(&cfg.PingPong, "pingpong", 2*time.Second, "also measure depth 1 for this long (0 = skip)")
	fs.IntVar(&cfg.Procs, "procs", 1, "host GOMAXPROCS (0 = leave)")
	workerProcs := fs.Int("worker-procs", 1, "worker GOMAXPROCS (0 = leave)")
	workerMode := fs.String("worker-mode", "inline", "worker answering: inline or chan")
	gc := fs.Int("gc", 400, "host GOGC percent (0 = leave the default)")
	workerGC := fs.Int("worker-gc", 400, "worker GOGC percent (0 = leave the default)")
	workerCmd := fs.String("worker-cmd", "", "drive this worker instead of the raw one: its command line, split at spaces (no shell)")
	fs.StringVar(&cfg.Function, "function", "echo", "with --worker-cmd: the function to invoke")
	fs.Float64Var(&cfg.Rate, "rate", 0, "paced open loop at this many invocations per second (0: closed at --depth)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	profile := fs.String("cpuprofile", "", "write CPU profiles to FILE.host and FILE.worker")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *profile != "" {
		stopProfile, err := startProfile(*profile + ".host")
		if err != nil {
			fmt.Fprintln(stderr, "rawceiling:", err)
			return 1
		}
		defer stopProfile()
	}
	if cfg.Duration <= 0 || cfg.Depth < 0 || cfg.BodyBytes < 0 || cfg.Rate < 0 {
		fmt.Fprintln(stderr, "rawceiling: --duration must be positive, --depth, --body-bytes and --rate not negative")
		return 2
	}
	cfg.WorkerCmd = strings.Fields(*workerCmd)
	if *gc != 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(*gc))
	}
	cfg.WorkerArgs = []string{"--mode", *workerMode, "--procs", strconv.Itoa(*workerProcs), "--gc", strconv.Itoa(*workerGC)}
	if *profile != "" {
		cfg.WorkerArgs = append(cfg.WorkerArgs, "--cpuprofile", *profile+".worker")
	}
	res, err := runHost(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "rawceiling:", err)
		return 1
	}
	res.GOGC, res.Procs, res.Mode, res.Rate = *gc, cfg.Procs, *workerMode, cfg.Rate
	if len(cfg.WorkerCmd) > 0 {
		res.Mode = "external"
	}
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(b))
	} else {
		fmt.Fprintln(stdout, res.String())
	}
	return 0
}

// startProfile starts a CPU profile into path; the returned function stops it.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func (r *Result) String() string {
	depth := strconv.Itoa(r.Depth)
	if r.Depth == 0 {
		depth = "unbounded"
	}
	s := fmt.Sprintf("depth %s, body %d B, %.1fs: %s", depth, r.BodyBytes, r.DurationS, r.phase.String())
	if r.PingPong != nil {
		s += "\ndepth 1 (ping-pong): " + r.PingPong.String()
	}
	return s
}

func (p *phase) String() string {
	lag := ""
	if p.LagP99Us > 0 {
		lag = fmt.Sprintf(", lag p50/p99/max %d/%d/%d µs", p.LagP50Us, p.LagP99Us, p.LagMaxUs)
	}
	return fmt.Sprintf("%.0f inv/s, host %.2f µs/inv (%.2f cores, %.2f switches/inv), worker %.2f µs/inv (%.2f cores), mean round trip %.1f µs",
		p.InvocationsPerS, p.HostCPUUsPerInv, p.HostCores, p.HostSwitchesPerInv, p.WorkerCPUUsPerInv, p.WorkerCores, p.MeanRTTUs) + lag
}

// server is the FunctionRpc service: it hands the first stream that starts with StartStream to the
// host run and holds it open until done is closed.
type server struct {
	rpc.UnimplementedFunctionRpcServer
	streams chan rpc.FunctionRpc_EventStreamServer
	done    chan struct{}
}

func (s *server) EventStream(st rpc.FunctionRpc_EventStreamServer) error {
	first, err := st.Recv()
	if err != nil {
		return err
	}
	if first.GetStartStream() == nil {
		return status.Error(codes.FailedPrecondition, "the first message must be StartStream")
	}
	select {
	case s.streams <- st:
	default:
		return status.Error(codes.AlreadyExists, "one stream only")
	}
	<-s.done
	return nil
}

// host is the running host side of one stream.
type host struct {
	stream rpc.FunctionRpc_EventStreamServer
	base   time.Time
	seq    uint64 // sender goroutine only

	sent      atomic.Int64
	completed atomic.Int64
	failed    atomic.Int64
	rttSum    atomic.Int64                  // ns, over completed
	tokens    atomic.Pointer[chan struct{}] // nil = unbounded
	recvErr   atomic.Pointer[error]

	msg  *rpc.StreamingMessage
	req  *rpc.InvocationRequest
	rate float64 // paced sends per second in the next phase; 0: closed at its depth
}

func (h *host) now() int64 { return int64(time.Since(h.base)) }

func runHost(cfg hostConfig) (_ *Result, err error) {
	if cfg.Procs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cfg.Procs))
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(maxMsg),
		grpc.MaxSendMsgSize(maxMsg),
		grpc.InitialWindowSize(windowSize),
		grpc.InitialConnWindowSize(windowSize),
		grpc.WriteBufferSize(bufferSize),
		grpc.ReadBufferSize(bufferSize),
	)
	srv := &server{streams: make(chan rpc.FunctionRpc_EventStreamServer, 1), done: make(chan struct{})}
	rpc.RegisterFunctionRpcServer(gs, srv)
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	var closeOnce atomic.Bool
	endStream := func() {
		if closeOnce.CompareAndSwap(false, true) {
			close(srv.done)
		}
	}
	defer endStream()

	exe := cfg.Exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	port := lis.Addr().(*net.TCPAddr).Port
	cmd := exec.Command(exe, append([]string{"worker", "--port", strconv.Itoa(port)}, cfg.WorkerArgs...)...)
	if len(cfg.WorkerCmd) > 0 {
		cmd = exec.Command(cfg.WorkerCmd[0], append(cfg.WorkerCmd[1:], fbhost.HostArgs(port, "rawceiling-worker", "rawceiling-start")...)...)
	}
	cmd.Env = append(os.Environ(), cfg.Env...)
	cmd.Stdout = cfg.Stderr
	cmd.Stderr = cfg.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the worker: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		endStream()
		select {
		case werr := <-exited:
			if werr != nil && err == nil {
				err = fmt.Errorf("worker: %w", werr)
			}
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	h := &host{base: time.Now()}
	select {
	case h.stream = <-srv.streams:
	case werr := <-exited:
		exited <- werr
		return nil, fmt.Errorf("the worker exited before opening its stream: %v", werr)
	case <-time.After(10 * time.Second):
		return nil, errors.New("the worker did not open its stream within 10s")
	}
	h.build(cfg.BodyBytes)
	if len(cfg.WorkerCmd) > 0 {
		id, err := handshake(h.stream, cfg.Function)
		if err != nil {
			return nil, fmt.Errorf("handshake with %s: %w", cfg.WorkerCmd[0], err)
		}
		h.req.FunctionId = id
	}
	go h.receive()

	pid := cmd.Process.Pid
	res := &Result{Depth: cfg.Depth, DurationS: cfg.Duration.Seconds(), BodyBytes: cfg.BodyBytes}
	h.rate = cfg.Rate
	p, err := h.runPhase(cfg.Depth, cfg.Warmup, cfg.Duration, pid)
	if err != nil {
		return nil, err
	}
	res.phase = p
	if cfg.PingPong > 0 {
		warm := min(cfg.Warmup, 200*time.Millisecond)
		h.rate = 0
		pp, err := h.runPhase(1, warm, cfg.PingPong, pid)
		if err != nil {
			return nil, err
		}
		res.PingPong = &pp
	}
	res.Failed = h.failed.Load()
	return res, nil
}

// runPhase sends at the given depth, warms up, measures one window, then stops sending and waits
// until every invocation sent is answered.
func (h *host) runPhase(depth int, warmup, window time.Duration, workerPid int) (phase, error) {
	var tokens chan struct{}
	if h.rate > 0 {
		depth = 0 // paced: open loop, no in-flight bound
	}
	if depth > 0 {
		tokens = make(chan struct{}, depth)
		for range depth {
			tokens <- struct{}{}
		}
		h.tokens.Store(&tokens)
	} else {
		h.tokens.Store(nil)
	}
	var stop atomic.Bool
	sendDone := make(chan error, 1)
	lag := newPacedLag()
	if h.rate > 0 {
		go func() { sendDone <- h.sendPaced(h.rate, &stop, lag) }()
	} else {
		go func() { sendDone <- h.send(tokens, &stop) }()
	}

	if err := h.sleep(warmup, sendDone); err != nil {
		return phase{}, err
	}
	lag.from.Store(h.now())
	s0 := h.snap(workerPid)
	if err := h.sleep(window, sendDone); err != nil {
		return phase{}, err
	}
	s1 := h.snap(workerPid)
	lag.to.Store(h.now())

	stop.Store(true)
	if err := <-sendDone; err != nil {
		return phase{}, fmt.Errorf("sending: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.completed.Load()+h.failed.Load() < h.sent.Load() {
		if e := h.recvErr.Load(); e != nil {
			return phase{}, fmt.Errorf("receiving: %w", *e)
		}
		if time.Now().After(deadline) {
			return phase{}, fmt.Errorf("%d invocations unanswered 10s after sending stopped", h.sent.Load()-h.completed.Load()-h.failed.Load())
		}
		time.Sleep(time.Millisecond)
	}
	p := s1.since(s0)
	if h.rate > 0 && lag.hist.TotalCount() > 0 {
		p.LagP50Us, p.LagP99Us, p.LagMaxUs = lag.hist.ValueAtQuantile(50), lag.hist.ValueAtQuantile(99), lag.hist.Max()
	}
	return p, nil
}

// sleep waits d, returning early with an error when the sender or the receiver failed.
func (h *host) sleep(d time.Duration, sendDone chan error) error {
	t := time.NewTimer(d)
	defer t.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.C:
			return nil
		case err := <-sendDone:
			sendDone <- err
			return fmt.Errorf("sending: %v", err)
		case <-tick.C:
			if e := h.recvErr.Load(); e != nil {
				return fmt.Errorf("receiving: %w", *e)
			}
		}
	}
}

// build makes the one request template the sender reuses: an HTTP trigger invocation of the
// function "echo" (binding "req") as fbench shapes it for a worker with the .NET isolated worker's
// capabilities (nullable maps, body as bytes, trigger metadata without the request), so the raw
// pair moves the same bytes per invocation as fbench does (TestTemplateMatchesFbench).
func (h *host) build(bodyBytes int) {
	h.req = requestTemplate(bodyBytes)
	h.msg = &rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationRequest{InvocationRequest: h.req}}
}

func requestTemplate(bodyBytes int) *rpc.InvocationRequest {
	nullable := func(v string) *rpc.NullableString {
		return &rpc.NullableString{String_: &rpc.NullableString_Value{Value: v}}
	}
	method, headersJSON := "GET", `{"Host":"localhost:7071"}`
	headers := map[string]*rpc.NullableString{"host": nullable("localhost:7071")}
	var body *rpc.TypedData
	if bodyBytes > 0 {
		b := make([]byte, bodyBytes)
		for i := range b {
			b[i] = byte('a' + i%26)
		}
		method = "POST"
		body = &rpc.TypedData{Data: &rpc.TypedData_Bytes{Bytes: b}}
		headers["content-length"] = nullable(strconv.Itoa(bodyBytes))
		headersJSON = `{"Content-Length":"` + strconv.Itoa(bodyBytes) + `","Host":"localhost:7071"}`
	}
	httpReq := &rpc.RpcHttp{
		Method:          method,
		Url:             "http://localhost:7071/api/echo",
		NullableHeaders: headers,
		NullableQuery:   map[string]*rpc.NullableString{},
		NullableParams:  map[string]*rpc.NullableString{},
		Body:            body,
		// The host's anonymous caller: an identity with the default claim types.
		Identities: []*rpc.RpcClaimsIdentity{{
			NameClaimType: nullable("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"),
			RoleClaimType: nullable("http://schemas.microsoft.com/ws/2008/06/identity/claims/role"),
		}},
	}
	return &rpc.InvocationRequest{
		FunctionId: rawFunctionID,
		InputData: []*rpc.ParameterBinding{{Name: "req", RpcData: &rpc.ParameterBinding_Data{
			Data: &rpc.TypedData{Data: &rpc.TypedData_Http{Http: httpReq}}}}},
		TriggerMetadata: map[string]*rpc.TypedData{
			"Headers": {Data: &rpc.TypedData_Json{Json: headersJSON}},
			"Query":   {Data: &rpc.TypedData_Json{Json: "{}"}},
		},
		TraceContext: &rpc.RpcTraceContext{Attributes: map[string]string{}},
	}
}

// send is the one goroutine writing the stream.
func (h *host) send(tokens chan struct{}, stop *atomic.Bool) error {
	for !stop.Load() {
		if tokens != nil {
			<-tokens
		}
		h.seq++
		id := makeID(h.seq, h.now())
		h.req.InvocationId = id
		h.req.TraceContext.TraceParent = guid.TraceParent(id)
		h.sent.Add(1)
		if err := h.stream.Send(h.msg); err != nil {
			return err
		}
	}
	return nil
}

// receive is the one goroutine reading the stream.
func (h *host) receive() {
	in := &rpc.StreamingMessage{}
	for {
		if err := h.stream.RecvMsg(in); err != nil {
			h.recvErr.Store(&err)
			return
		}
		r := in.GetInvocationResponse()
		if r == nil {
			continue
		}
		now := h.now()
		if sentAt, ok := idTime(r.InvocationId); ok && r.Result.GetStatus() == rpc.StatusResult_Success {
			h.rttSum.Add(now - sentAt)
			h.completed.Add(1)
		} else {
			h.failed.Add(1)
		}
		if tp := h.tokens.Load(); tp != nil {
			select {
			case *tp <- struct{}{}:
			default:
			}
		}
	}
}

type snapshot struct {
	at        time.Time
	completed int64
	rttSum    int64
	hostCPU   time.Duration
	workerCPU time.Duration
	switches  int64
}

func (h *host) snap(workerPid int) snapshot {
	return snapshot{
		at:        time.Now(),
		completed: h.completed.Load(),
		rttSum:    h.rttSum.Load(),
		hostCPU:   selfCPU(),
		workerCPU: procCPU(workerPid),
		switches:  selfSwitches(),
	}
}

func (s1 snapshot) since(s0 snapshot) phase {
	n := s1.completed - s0.completed
	wall := s1.at.Sub(s0.at).Seconds()
	p := phase{
		Completed:   n,
		HostCores:   (s1.hostCPU - s0.hostCPU).Seconds() / wall,
		WorkerCores: (s1.workerCPU - s0.workerCPU).Seconds() / wall,
	}
	if wall > 0 {
		p.InvocationsPerS = float64(n) / wall
	}
	if n > 0 {
		p.HostCPUUsPerInv = float64((s1.hostCPU - s0.hostCPU).Microseconds()) / float64(n)
		p.WorkerCPUUsPerInv = float64((s1.workerCPU - s0.workerCPU).Microseconds()) / float64(n)
		p.MeanRTTUs = float64(s1.rttSum-s0.rttSum) / float64(n) / 1e3
		p.HostSwitchesPerInv = float64(s1.switches-s0.switches) / float64(n)
	}
	return p
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// selfSwitches is this process's context switches, voluntary and involuntary, all threads.
func selfSwitches() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return int64(ru.Nvcsw + ru.Nivcsw)
}

// procCPU is a process's utime+stime from /proc/<pid>/stat (clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	return parseStatCPU(string(b))
}

func parseStatCPU(stat string) time.Duration {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state): utime is field 14, stime 15
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

const hexDigits = "0123456789abcdef"

func putHex(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = hexDigits[v&15]
		v >>= 4
	}
}

// makeID is a GUID-shaped id (8-4-4-4-12 hex, as fbench's): the first 16 digits are seq, the last
// 16 the send time in ns since the run began, which the worker echoes back.
func makeID(seq uint64, sentAt int64) string {
	var b [36]byte
	putHex(b[0:8], seq>>32)
	b[8] = '-'
	putHex(b[9:13], seq>>16)
	b[13] = '-'
	putHex(b[14:18], seq)
	b[18] = '-'
	putHex(b[19:23], uint64(sentAt)>>48)
	b[23] = '-'
	putHex(b[24:36], uint64(sentAt))
	return string(b[:])
}

func parseHex(s string) (uint64, bool) {
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// idTime is the send time makeID put in id.
func idTime(id string) (int64, bool) {
	if len(id) != 36 || id[23] != '-' {
		return 0, false
	}
	hi, ok1 := parseHex(id[19:23])
	lo, ok2 := parseHex(id[24:36])
	return int64(hi<<48 | lo), ok1 && ok2
}
