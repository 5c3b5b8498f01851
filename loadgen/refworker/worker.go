package refworker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fbench/fbench/loadgen/dist"
	"github.com/fbench/fbench/protos/rpc"
)

// call is the cancellation handle of one tracked invocation.
type call struct {
	done chan struct{}
	once sync.Once
}

func (c *call) cancel() { c.once.Do(func() { close(c.done) }) }

// hdrEntry caches the response header map of the last content type seen.
type hdrEntry struct {
	ct string
	m  map[string]string
}

type worker struct {
	cfg    *config
	stderr io.Writer

	conn         *grpc.ClientConn
	stream       grpc.BidiStreamingClient[rpc.StreamingMessage, rpc.StreamingMessage]
	cancelStream context.CancelFunc

	q        sendQueue
	sendDone chan struct{} // closed when the sender stops
	sendErr  error         // why it stopped (valid after sendDone)

	funcs map[string]*builtin // loaded functions by function id; reader goroutine only

	mu       sync.Mutex
	inflight map[string]*call // tracked invocations by invocation id

	sem chan struct{} // --max-concurrency slots; nil = unlimited
	wg  sync.WaitGroup

	received atomic.Int64 // InvocationRequests received
	answered atomic.Int64 // InvocationResponses queued
	closing  atomic.Bool  // close-stream fault fired

	rngMu sync.Mutex
	rng   *rand.Rand

	pauseUntil atomic.Int64 // unix ns; sender holds everything until then
	// direct: with --dispatch inline and nothing that orders or reshapes responses (logs, faults),
	// the read loop sends a finished response itself instead of queueing it for the sender
	// goroutine; sendMu then serialises the two senders.
	direct bool
	sendMu sync.Mutex

	padding []byte // --response-size bytes
	bigBody []byte // big-response fault body, nil = off
	lastHdr atomic.Pointer[hdrEntry]

	leakMu sync.Mutex
	leaked [][]byte

	stop chan struct{} // closed on exit (stops log-flood)

	proxy *proxyServer // HTTP proxying mode; nil otherwise
}

// closeSendMarker in the send queue makes the sender call CloseSend and stop.
var closeSendMarker = &rpc.StreamingMessage{}

func run(cfg *config, stderr io.Writer) int {
	f := &cfg.faults
	w := &worker{
		cfg:      cfg,
		stderr:   stderr,
		funcs:    map[string]*builtin{},
		inflight: map[string]*call{},
		sendDone: make(chan struct{}),
		stop:     make(chan struct{}),
	}
	w.q.wake = make(chan struct{}, 1)
	if cfg.inline && os.Getenv("GOMAXPROCS") == "" {
		// An event loop: one P, as a Node worker has one JavaScript thread (and the cheapest way
		// for this process to answer on a machine it shares with the harness).
		runtime.GOMAXPROCS(1)
	}
	w.direct = cfg.inline && cfg.userLogs == 0 && cfg.systemLogs == 0 && len(f.pauses) == 0 &&
		!f.duplicateIDs && !f.emptyMessages && !f.unknownMessages && f.closeStreamAt == 0 && f.stopReadingAt == 0
	if cfg.maxConc > 0 {
		w.sem = make(chan struct{}, cfg.maxConc)
	}
	seed := cfg.seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	w.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	if cfg.respSize > 0 {
		w.padding = pattern(cfg.respSize)
	}
	if f.bigResponse >= 0 {
		w.bigBody = pattern(f.bigResponse)
	}

	w.logf("started pid=%d worker-id=%s request-id=%s endpoint=%s mimic=%s service-time=%s",
		os.Getpid(), cfg.workerID, cfg.requestID, cfg.endpoint, cfg.mimic, cfg.service)
	if f.exitAtStart {
		w.logf("fault exit-at-start: exiting with code %d before connecting", f.exitCode)
		return f.exitCode
	}
	if f.slowStart > 0 {
		w.logf("fault slow-start: sleeping %s before connecting", f.slowStart)
		time.Sleep(f.slowStart)
	}
	if os.Getenv("WEBSITE_PLACEHOLDER_MODE") == "1" {
		cwd, _ := os.Getwd()
		w.logf("placeholder mode: WEBSITE_PLACEHOLDER_MODE=1, cwd=%s", cwd)
	}
	w.delay(cfg.costs.start)

	if cfg.httpProxy {
		p, err := startProxyServer(w)
		if err != nil {
			return w.exit(1, "cannot serve HTTP proxying mode: "+err.Error())
		}
		w.proxy = p
		defer p.close()
		w.direct = false
	}
	if err := w.connect(); err != nil {
		return w.exit(1, err.Error())
	}
	defer w.conn.Close()

	go w.sendLoop()
	if f.noStartStream {
		w.logf("fault no-start-stream: stream open, never sending StartStream")
		hang()
	}
	w.q.push(&rpc.StreamingMessage{RequestId: cfg.requestID, Content: &rpc.StreamingMessage_StartStream{
		StartStream: &rpc.StartStream{WorkerId: cfg.workerID}}})
	if f.logFlood > 0 {
		go w.logFlood(f.logFlood)
	}

	code, reason, end := w.readLoop()
	close(w.stop)
	w.shutdown(end)
	return w.exit(code, reason)
}

// connect dials the host and opens EventStream.
func (w *worker) connect() error {
	cfg := w.cfg
	conn, err := grpc.NewClient("passthrough:///"+cfg.endpoint,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.maxMsg), grpc.MaxCallSendMsgSize(cfg.maxMsg)))
	if err != nil {
		return fmt.Errorf("cannot create gRPC client for %s: %v", cfg.endpoint, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.connectTimeout)
	defer cancel()
	conn.Connect()
	for s := conn.GetState(); s != connectivity.Ready; s = conn.GetState() {
		if !conn.WaitForStateChange(ctx, s) {
			conn.Close()
			return fmt.Errorf("cannot connect to host at %s within %s (state %s)", cfg.endpoint, cfg.connectTimeout, s)
		}
	}
	sctx, scancel := context.WithCancel(context.Background())
	stream, err := rpc.NewFunctionRpcClient(conn).EventStream(sctx)
	if err != nil {
		scancel()
		conn.Close()
		return fmt.Errorf("cannot open EventStream on %s: %v", cfg.endpoint, err)
	}
	w.conn, w.stream, w.cancelStream = conn, stream, scancel
	return nil
}

// exit prints the exit line and returns code.
func (w *worker) exit(code int, reason string) int {
	w.logf("exiting code=%d: %s (invocations received=%d answered=%d)", code, reason, w.received.Load(), w.answered.Load())
	return code
}

func (w *worker) logf(format string, args ...any) {
	fmt.Fprintf(w.stderr, logPrefix+format+"\n", args...)
}

// hang keeps the process alive until it is killed.
func hang() {
	for {
		time.Sleep(time.Hour)
	}
}

// How the read loop ended.
type ending int

const (
	endAbort     ending = iota // stream broken or ended by the host: nothing more can be sent
	endTerminate               // WorkerTerminate: flush, half-close, wait for the host to end the stream
	endRecvDone                // close-stream fault: already half-closed and Recv has ended
)

// readLoop dispatches host messages until the stream ends or the worker
// decides to stop; it returns the exit code, reason and kind of ending.
func (w *worker) readLoop() (int, string, ending) {
	f := &w.cfg.faults
	for {
		msg, err := w.stream.Recv()
		if err != nil {
			switch {
			case w.closing.Load():
				return 0, "closed the stream (fault close-stream)", endRecvDone
			case errors.Is(err, io.EOF):
				return 0, "host closed the stream", endAbort
			}
			return 1, fmt.Sprintf("stream error: %v", err), endAbort
		}
		switch c := msg.Content.(type) {
		case *rpc.StreamingMessage_InvocationRequest:
			switch w.onInvocation(msg.RequestId, c.InvocationRequest) {
			case actStopReading:
				w.logf("fault stop-reading@%d: no longer reading the stream", f.stopReadingAt)
				<-w.sendDone
				return 1, fmt.Sprintf("send failed while not reading (fault stop-reading): %v", w.sendErr), endAbort
			case actCloseStream:
				w.logf("fault close-stream@%d: closing the send side with invocations unanswered", f.closeStreamAt)
				w.q.push(closeSendMarker)
			}
		case *rpc.StreamingMessage_InvocationCancel:
			if f.ignoreCancel {
				continue
			}
			w.cancel(c.InvocationCancel.GetInvocationId())
			w.q.push(&rpc.StreamingMessage{RequestId: msg.RequestId}) // like .NET: one empty message per cancel
		case *rpc.StreamingMessage_WorkerStatusRequest:
			if !f.hangStatus {
				w.q.push(&rpc.StreamingMessage{RequestId: msg.RequestId, Content: &rpc.StreamingMessage_WorkerStatusResponse{
					WorkerStatusResponse: &rpc.WorkerStatusResponse{}}})
			}
		case *rpc.StreamingMessage_WorkerInitRequest:
			w.logf("received WorkerInitRequest: function_app_directory=%s", c.WorkerInitRequest.GetFunctionAppDirectory())
			w.onInit(msg.RequestId, c.WorkerInitRequest)
		case *rpc.StreamingMessage_FunctionsMetadataRequest:
			w.logf("received FunctionsMetadataRequest: function_app_directory=%s", c.FunctionsMetadataRequest.GetFunctionAppDirectory())
			resp := &rpc.FunctionMetadataResponse{Result: resultSuccess}
			if w.cfg.defaultIndex {
				resp.UseDefaultMetadataIndexing = true
			} else {
				resp.FunctionMetadataResults = metadataResults(c.FunctionsMetadataRequest.GetFunctionAppDirectory())
			}
			w.q.push(&rpc.StreamingMessage{RequestId: msg.RequestId, Content: &rpc.StreamingMessage_FunctionMetadataResponse{
				FunctionMetadataResponse: resp}})
		case *rpc.StreamingMessage_FunctionLoadRequest:
			w.logf("received FunctionLoadRequest: %s", c.FunctionLoadRequest.GetMetadata().GetName())
			if !f.hangLoad {
				w.delay(w.cfg.costs.load)
				w.q.push(&rpc.StreamingMessage{RequestId: msg.RequestId, Content: &rpc.StreamingMessage_FunctionLoadResponse{
					FunctionLoadResponse: w.load(c.FunctionLoadRequest)}})
			}
		case *rpc.StreamingMessage_FunctionLoadRequestCollection:
			if !f.hangLoad {
				var rs []*rpc.FunctionLoadResponse
				for _, r := range c.FunctionLoadRequestCollection.GetFunctionLoadRequests() {
					w.delay(w.cfg.costs.load)
					rs = append(rs, w.load(r))
				}
				w.q.push(&rpc.StreamingMessage{RequestId: msg.RequestId, Content: &rpc.StreamingMessage_FunctionLoadResponseCollection{
					FunctionLoadResponseCollection: &rpc.FunctionLoadResponseCollection{FunctionLoadResponses: rs}}})
			}
		case *rpc.StreamingMessage_WorkerTerminate:
			w.q.push(&rpc.StreamingMessage{RequestId: msg.RequestId}) // like .NET
			if f.ignoreTerminate {
				w.logf("fault ignore-terminate: ignoring WorkerTerminate")
				continue
			}
			grace := c.WorkerTerminate.GetGracePeriod().AsDuration()
			if c.WorkerTerminate.GetGracePeriod() == nil || grace <= 0 {
				grace = w.cfg.shutdownGrace
			}
			w.drain(grace)
			return 0, "WorkerTerminate received", endTerminate
		case *rpc.StreamingMessage_FunctionEnvironmentReloadRequest:
			w.onReload(msg.RequestId, c.FunctionEnvironmentReloadRequest)
		case *rpc.StreamingMessage_WorkerWarmupRequest:
			w.logf("received WorkerWarmupRequest: worker_directory=%s", c.WorkerWarmupRequest.GetWorkerDirectory())
			w.q.push(&rpc.StreamingMessage{RequestId: msg.RequestId, Content: &rpc.StreamingMessage_WorkerWarmupResponse{
				WorkerWarmupResponse: &rpc.WorkerWarmupResponse{Result: resultSuccess}}})
		case *rpc.StreamingMessage_CloseSharedMemoryResourcesRequest:
			res := map[string]bool{}
			for _, n := range c.CloseSharedMemoryResourcesRequest.GetMapNames() {
				res[n] = false
			}
			w.q.push(&rpc.StreamingMessage{RequestId: msg.RequestId, Content: &rpc.StreamingMessage_CloseSharedMemoryResourcesResponse{
				CloseSharedMemoryResourcesResponse: &rpc.CloseSharedMemoryResourcesResponse{CloseMapResults: res}}})
		case nil:
			// An empty message: nothing to do.
		default:
			w.q.push(systemLog("", rpc.RpcLog_Warning, fmt.Sprintf("fbench reference worker ignores unexpected message %T", c)))
		}
	}
}

type action int

const (
	actContinue action = iota
	actStopReading
	actCloseStream
)

// onInvocation counts the request, applies the count-based faults and starts
// the invocation on its own goroutine.
func (w *worker) onInvocation(reqID string, req *rpc.InvocationRequest) action {
	n := w.received.Add(1)
	if w.closing.Load() {
		return actContinue
	}
	f := &w.cfg.faults
	if f.crashAfter > 0 && n >= f.crashAfter {
		w.logf("fault crash-after=%d: received invocation %d (%s), crashing with exit code 3", f.crashAfter, n, req.InvocationId)
		exitProcess(3)
	}
	if f.restartAfter > 0 && n >= f.restartAfter {
		w.logf("fault restart-after=%d: received invocation %d (%s), exiting with code 200 to be restarted", f.restartAfter, n, req.InvocationId)
		exitProcess(200)
	}
	if f.closeStreamAt > 0 && n == f.closeStreamAt {
		w.closing.Store(true)
		return actCloseStream
	}
	for _, p := range f.pauses {
		if n == p.n {
			w.logf("fault pause=%s@%d: holding all messages for %s", p.d, p.n, p.d)
			w.pauseUntil.Store(time.Now().Add(p.d).UnixNano())
		}
	}
	if f.dropEvery > 0 && n%f.dropEvery == 0 {
		return actContinue
	}
	fn := w.funcs[req.FunctionId]
	// Only invocations that can wait are tracked for cancellation (the
	// others finish without blocking, so a cancel for them is a no-op).
	// Tracking happens here, before the goroutine starts, so a cancel that
	// follows the request immediately is not missed.
	var c *call
	if fn != nil && (w.sem != nil || (fn.name == "work" && !w.cfg.service.IsZero())) {
		c = &call{done: make(chan struct{})}
		w.mu.Lock()
		w.inflight[req.InvocationId] = c
		w.mu.Unlock()
	}
	w.wg.Add(1)
	if w.cfg.inline && c == nil && f.late == 0 && (w.proxy == nil || fn == nil || fn.serve == nil) {
		w.invoke(fn, c, reqID, req)
	} else {
		go w.invoke(fn, c, reqID, req)
	}
	if f.stopReadingAt > 0 && n == f.stopReadingAt {
		return actStopReading
	}
	return actContinue
}

// invoke runs one invocation and queues its response.
// c is its cancellation handle (nil if untracked).
func (w *worker) invoke(fn *builtin, c *call, reqID string, req *rpc.InvocationRequest) {
	defer w.wg.Done()
	id := req.InvocationId
	if fn == nil {
		w.finish(reqID, newResponse(reqID, id, failure("function id "+strconv.Quote(req.FunctionId)+" is not loaded")))
		return
	}
	if c != nil {
		defer func() {
			w.mu.Lock()
			if w.inflight[id] == c {
				delete(w.inflight, id)
			}
			w.mu.Unlock()
		}()
		if w.sem != nil {
			select {
			case <-c.done:
			case w.sem <- struct{}{}:
				defer func() { <-w.sem }()
			}
		}
		select {
		case <-c.done: // cancelled before it started
			w.finish(reqID, newResponse(reqID, id, resultCancelled))
			return
		default:
		}
	}
	for i := range w.cfg.systemLogs {
		w.q.push(systemLogFor(id, "Worker "+w.cfg.workerID+" received FunctionInvocationRequest with invocationId "+id+" #"+strconv.Itoa(i+1)))
	}
	for i := range w.cfg.userLogs {
		w.q.push(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_RpcLog{RpcLog: &rpc.RpcLog{
			InvocationId: id, Category: "Function." + fn.name + ".User", Level: rpc.RpcLog_Information,
			LogCategory: rpc.RpcLog_User, Message: "fbench " + fn.name + " log line " + strconv.Itoa(i+1)}}})
	}
	if w.proxy != nil && fn.serve != nil {
		w.invokeProxied(reqID, req)
		return
	}
	w.finish(reqID, fn.run(w, c, reqID, req))
	if fn.name == "fail" && w.cfg.failVaried {
		// A log line after the response, as workers that log asynchronously send them: the host
		// has settled the invocation and drops it.
		w.q.push(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_RpcLog{RpcLog: &rpc.RpcLog{
			InvocationId: id, Category: "Function.fail.User", Level: rpc.RpcLog_Information,
			LogCategory: rpc.RpcLog_User, Message: "cleanup after a failed invocation"}}})
	}
}

// finish applies the response-shaping faults and queues r.
func (w *worker) finish(reqID string, r *response) {
	f := &w.cfg.faults
	if f.late > 0 {
		time.Sleep(f.late)
	}
	if f.leak > 0 {
		w.leak(f.leak)
	}
	switch {
	case f.unknownIDs:
		r.ir.InvocationId = newGUID()
	case f.emptyIDs:
		r.ir.InvocationId = ""
	}
	w.answered.Add(1)
	if w.direct {
		w.sendMu.Lock()
		err := w.stream.Send(&r.sm)
		w.sendMu.Unlock()
		if err != nil {
			w.q.close()
		}
		return
	}
	w.q.push(&r.sm)
	if f.duplicateIDs {
		w.q.push(&r.sm)
	}
	if f.emptyMessages {
		w.q.push(&rpc.StreamingMessage{RequestId: reqID})
	}
	if f.unknownMessages {
		w.q.push(&rpc.StreamingMessage{RequestId: reqID, Content: &rpc.StreamingMessage_WorkerInitRequest{
			WorkerInitRequest: &rpc.WorkerInitRequest{HostVersion: "fbench-reference-unknown-message"}}})
	}
}

// cancel cancels a tracked invocation; unknown or finished ids are a no-op.
func (w *worker) cancel(id string) {
	w.mu.Lock()
	c := w.inflight[id]
	w.mu.Unlock()
	if c != nil {
		c.cancel()
	}
}

// drain lets in-flight invocations finish for up to grace, then cancels the
// rest and gives them a moment to answer.
func (w *worker) drain(grace time.Duration) {
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(grace):
	}
	n := w.cancelAll()
	w.logf("grace period %s over, cancelled %d tracked invocations", grace, n)
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond):
	}
}

func (w *worker) cancelAll() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.inflight {
		c.cancel()
	}
	return len(w.inflight)
}

// shutdown flushes what can still be sent and tears the stream down.
func (w *worker) shutdown(end ending) {
	defer w.cancelStream()
	if end == endRecvDone {
		return
	}
	if end == endAbort {
		w.cancelAll()
	}
	w.q.close() // the sender sends what is queued, then half-closes
	select {
	case <-w.sendDone:
	case <-time.After(5 * time.Second):
		return
	}
	if end != endTerminate {
		return
	}
	// Sent data is only known to have arrived once the host has seen the
	// half-close and ended the stream; wait briefly for that.
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			if _, err := w.stream.Recv(); err != nil {
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-time.After(time.Second):
	}
}

func (w *worker) onInit(reqID string, m *rpc.WorkerInitRequest) {
	f := &w.cfg.faults
	if f.hangInit {
		w.logf("fault hang-init: not answering WorkerInitRequest")
		return
	}
	resp := &rpc.WorkerInitResponse{
		WorkerVersion:  WorkerVersion,
		Capabilities:   w.capabilities(),
		WorkerMetadata: workerMetadata(w.cfg.mimic),
		Result:         resultSuccess,
	}
	switch {
	case f.failInit:
		resp.Result = failure("fault fail-init: worker initialization failed on purpose")
	case m.GetHostVersion() == "":
		resp.Result = failure("WorkerInitRequest.host_version is empty")
	}
	if fail, n := f.failThisStart(); fail {
		w.logf("fault fail-init-every=%d: failing start %d", f.failInitEvery, n)
		resp.Result = failure(fmt.Sprintf("fault fail-init-every: start %d fails on purpose", n))
	}
	w.q.push(&rpc.StreamingMessage{RequestId: reqID, Content: &rpc.StreamingMessage_WorkerInitResponse{WorkerInitResponse: resp}})
}

// load maps a FunctionLoadRequest to a built-in by metadata.name.
func (w *worker) load(m *rpc.FunctionLoadRequest) *rpc.FunctionLoadResponse {
	name := m.GetMetadata().GetName()
	resp := &rpc.FunctionLoadResponse{FunctionId: m.GetFunctionId(), Result: resultSuccess}
	fn := builtins[strings.ToLower(name)]
	switch {
	case m.GetFunctionId() == "":
		resp.Result = failure("FunctionLoadRequest.function_id is empty")
	case fn == nil:
		resp.Result = failure("no built-in function named " + strconv.Quote(name))
	case w.cfg.faults.failLoad[fn.name]:
		resp.Result = failure("fault fail-load: loading " + fn.name + " failed on purpose")
	default:
		w.funcs[m.GetFunctionId()] = fn
	}
	return resp
}

// sampleServiceTime draws one --service-time value.
func (w *worker) sampleServiceTime() time.Duration {
	if w.cfg.service.Kind() == dist.Fixed {
		return w.cfg.service.Sample(nil)
	}
	w.rngMu.Lock()
	d := w.cfg.service.Sample(w.rng)
	w.rngMu.Unlock()
	return d
}

// headersFor returns the response header map for a request content type,
// reusing the last one built.
func (w *worker) headersFor(ct string) map[string]string {
	if ct == "" {
		return defaultHeaders
	}
	if e := w.lastHdr.Load(); e != nil && e.ct == ct {
		return e.m
	}
	e := &hdrEntry{ct: ct, m: map[string]string{"Content-Type": ct}}
	w.lastHdr.Store(e)
	return e.m
}

// responseBody is the echoed body plus --response-size padding, or the
// big-response body.
func (w *worker) responseBody(body []byte) []byte {
	switch {
	case w.bigBody != nil:
		return w.bigBody
	case len(w.padding) == 0:
		return body
	case len(body) == 0:
		return w.padding
	}
	out := make([]byte, 0, len(body)+len(w.padding))
	return append(append(out, body...), w.padding...)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func (w *worker) leak(n int) {
	b := make([]byte, n)
	for i := 0; i < n; i += 4096 {
		b[i] = 1
	}
	b[n-1] = 1
	w.leakMu.Lock()
	w.leaked = append(w.leaked, b)
	w.leakMu.Unlock()
}

func newGUID() string {
	var u [16]byte
	a, b := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		u[i], u[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

func systemLog(invocationID string, level rpc.RpcLog_Level, msg string) *rpc.StreamingMessage {
	return &rpc.StreamingMessage{Content: &rpc.StreamingMessage_RpcLog{RpcLog: &rpc.RpcLog{
		InvocationId: invocationID, Category: "Host.Function.Worker", Level: level,
		LogCategory: rpc.RpcLog_System, Message: msg}}}
}

func systemLogFor(invocationID, msg string) *rpc.StreamingMessage {
	return systemLog(invocationID, rpc.RpcLog_Debug, msg)
}

// logFlood sends n System logs per second until the worker stops.
func (w *worker) logFlood(n int) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	start, sent := time.Now(), 0
	for {
		select {
		case <-w.stop:
			return
		case now := <-t.C:
			due := int(float64(n) * now.Sub(start).Seconds())
			for ; sent < due; sent++ {
				if !w.q.push(systemLog("", rpc.RpcLog_Information, "fbench log-flood line "+strconv.Itoa(sent+1))) {
					return
				}
			}
		}
	}
}

// sendLoop owns stream.Send: it drains the queue in batches, in order.
func (w *worker) sendLoop() {
	defer close(w.sendDone)
	pausable := len(w.cfg.faults.pauses) > 0
	var spare []*rpc.StreamingMessage
	for {
		batch, ok := w.q.take(spare)
		if !ok {
			w.sendErr = errors.New("send queue closed")
			w.stream.CloseSend()
			return
		}
		for i, m := range batch {
			if m == closeSendMarker {
				w.sendErr = errors.New("send side closed")
				w.stream.CloseSend()
				w.q.close()
				// Recv ends when the host ends the stream; if it does not, stop waiting.
				time.AfterFunc(time.Second, w.cancelStream)
				return
			}
			if pausable {
				for {
					wait := time.Duration(w.pauseUntil.Load() - time.Now().UnixNano())
					if wait <= 0 {
						break
					}
					time.Sleep(wait)
				}
			}
			if w.direct {
				w.sendMu.Lock()
			}
			err := w.stream.Send(m)
			if w.direct {
				w.sendMu.Unlock()
			}
			if err != nil {
				w.sendErr = err
				w.q.close()
				return
			}
			batch[i] = nil
		}
		spare = batch
	}
}

// sendQueue is an unbounded FIFO (like the .NET worker's outbound channel)
// with one consumer, the sender goroutine, woken through a channel.
type sendQueue struct {
	mu     sync.Mutex
	items  []*rpc.StreamingMessage
	closed bool
	wake   chan struct{} // capacity 1
}

// push appends m; false if the queue is closed.
func (q *sendQueue) push(m *rpc.StreamingMessage) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, m)
	first := len(q.items) == 1
	q.mu.Unlock()
	if first {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// take waits for and returns everything queued, handing spare back as the
// new buffer; ok is false once the queue is closed and empty.
func (q *sendQueue) take(spare []*rpc.StreamingMessage) (batch []*rpc.StreamingMessage, ok bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			batch, q.items = q.items, spare[:0]
			q.mu.Unlock()
			return batch, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, false
		}
		<-q.wake
	}
}

func (q *sendQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
