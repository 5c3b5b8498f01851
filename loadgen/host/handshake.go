package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fbench/fbench/loadgen/guid"
	"github.com/fbench/fbench/protos/rpc"
)

// DefaultHostVersion is the host version fbench announces in WorkerInitRequest.
const DefaultHostVersion = "4.1037.0.0"

// Timeout defaults, as the host's.
const (
	DefaultStartTimeout    = 60 * time.Second
	DefaultInitTimeout     = 10 * time.Second
	DefaultMetadataTimeout = time.Minute
	DefaultLoadTimeout     = time.Minute
	TerminateGrace         = 5 * time.Second
)

// Options configure a worker launch and handshake.
type Options struct {
	Launch   Launch
	Indexing Indexing
	// HostVersion is sent in WorkerInitRequest.host_version (default DefaultHostVersion).
	HostVersion string
	// Timeouts; zero means the host's default (the init timeout from worker.config.json when it sets one).
	StartTimeout, InitTimeout, MetadataTimeout, LoadTimeout time.Duration
	// Log receives the worker's stdout/stderr and RpcLog lines (nil: discarded, tail still kept).
	Log io.Writer
	// LabelLog starts every line of Log with the worker's pid (several processes share one log).
	LabelLog bool
}

// Step is one point of the handshake time line.
type Step struct {
	Name   string        `json:"name"`
	At     time.Duration `json:"at_ns"`   // since the process was spawned
	Took   time.Duration `json:"took_ns"` // since the previous step
	Detail string        `json:"detail,omitempty"`
}

// Error is a handshake failure: one line naming the phase, what was expected, the worker's exit
// code when it exited, and its last stderr lines.
type Error struct {
	Phase    string
	Msg      string
	ExitCode *int
	Tail     []string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Phase, e.Msg)
	if e.ExitCode != nil {
		fmt.Fprintf(&b, " (worker exit code %d)", *e.ExitCode)
	}
	if e.Phase != "launch" {
		b.WriteString("; " + tailText(e.Tail))
	}
	return b.String()
}

// Worker is a launched worker whose handshake completed: its stream is ready for invocations.
type Worker struct {
	ID        string
	RequestID string
	Command   *Command
	Pid       int
	Log       *WorkerLog

	Capabilities map[string]string
	Metadata     *rpc.WorkerMetadata
	proxy        *ProxyURI   // HttpUri, validated; nil: no HTTP proxying
	Functions    []*Function // loaded with Success
	Failed       []*Function // failed indexing or load
	Timeline     []Step

	// Counters of what the handshake tolerated.
	EmptyMessages, UnknownMessages, Logs int64

	srv     *Server
	sess    *session
	stream  Stream
	proc    *process
	last    time.Time
	recvCh  chan recvResult
	pending bool
	ended   bool
	killed  bool // Shutdown had to kill the process: it outlived WorkerTerminate's grace
	// terminateSent / terminateFailed: Shutdown sent WorkerTerminate / could not; endHow says how it ended.
	terminateSent, terminateFailed bool
	endHow                         string
	endOnce                        sync.Once
	// handedOut is set once the engine took the stream (it then reads until the stream ends).
	handedOut bool
	// recvAt is when the message recvKind last returned was received (for the staged start's timing).
	recvAt time.Time
}

type recvResult struct {
	m   *rpc.StreamingMessage
	err error
	at  time.Time // when Recv returned
}

// Start launches the worker and completes the host's handshake: StartStream, WorkerInitRequest,
// discovery, one FunctionLoadRequest per function, the steps of a staged start (see Spawn) one
// after the other. On failure the process is killed and reaped and the error is an *Error.
func Start(ctx context.Context, srv *Server, opt Options) (*Worker, error) {
	w, _, err := Spawn(ctx, srv, opt)
	if err != nil {
		return nil, err
	}
	if _, err := w.Initialize(ctx, opt, w.Command.AppDir); err != nil {
		return nil, err
	}
	_, fns, err := w.Discover(ctx, opt, w.Command.AppDir)
	if err != nil {
		return nil, err
	}
	if _, err := w.LoadFunctions(ctx, opt, fns); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Worker) step(name, detail string) {
	now := time.Now()
	w.Timeline = append(w.Timeline, Step{Name: name, At: now.Sub(w.proc.start), Took: now.Sub(w.last), Detail: detail})
	w.last = now
}

// loadRequestFor is f's FunctionLoadRequest as the host sends it to this worker: with host.json's
// managedDependency.enabled; an app setting AzureWebJobs.NAME.Disabled marks f disabled first.
func (w *Worker) loadRequestFor(f *Function, managedDeps bool) *rpc.FunctionLoadRequest {
	if disabledBySetting(f.Name, w.Command.Env) {
		f.Disabled = true
	}
	lr := f.loadRequest()
	lr.ManagedDependencyEnabled = managedDeps
	return lr
}

func (w *Worker) send(m *rpc.StreamingMessage) error { return w.stream.Send(m) }

// recvKind reads messages until want matches one, within d. RpcLogs go to the worker log, messages
// with no content and other messages are counted and skipped.
func (w *Worker) recvKind(ctx context.Context, d time.Duration, phase, expected, flag string, want func(*rpc.StreamingMessage) bool) (*rpc.StreamingMessage, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		if !w.pending {
			w.pending = true
			go func() {
				m, err := w.stream.Recv()
				w.recvCh <- recvResult{m, err, time.Now()}
			}()
		}
		select {
		case r := <-w.recvCh:
			w.pending = false
			if r.err != nil {
				// The stream ended: most often because the worker exited; wait briefly to say so.
				select {
				case <-w.proc.exited:
					return nil, &Error{Phase: phase, Msg: fmt.Sprintf("worker exited while fbench waited for %s", expected)}
				case <-time.After(time.Second):
				}
				return nil, &Error{Phase: phase, Msg: fmt.Sprintf("stream ended while fbench waited for %s: %v", expected, r.err)}
			}
			if want(r.m) {
				w.recvAt = r.at
				return r.m, nil
			}
			w.tolerate(r.m)
		case <-w.proc.exited:
			return nil, &Error{Phase: phase, Msg: fmt.Sprintf("worker exited while fbench waited for %s", expected)}
		case <-timer.C:
			msg := fmt.Sprintf("no %s within %s", expected, d)
			if flag != "" {
				msg += " (" + flag + ")"
			}
			return nil, &Error{Phase: phase, Msg: msg}
		case <-ctx.Done():
			return nil, &Error{Phase: phase, Msg: "interrupted while waiting for " + expected}
		}
	}
}

// tolerate handles a message the handshake did not wait for.
func (w *Worker) tolerate(m *rpc.StreamingMessage) {
	switch c := m.Content.(type) {
	case nil:
		w.EmptyMessages++
	case *rpc.StreamingMessage_RpcLog:
		w.Logs++
		w.WriteLog(c.RpcLog)
	default:
		w.UnknownMessages++
	}
}

// WriteLog writes an RpcLog to the worker log with its level and category. It only queues the
// message (m must not change afterwards): the log's writer formats it.
func (w *Worker) WriteLog(l *rpc.RpcLog) { w.Log.rpcLog(l) }

// rpcLogText is an RpcLog's line in the worker log: level, category, invocation, message, exception.
func rpcLogText(l *rpc.RpcLog) string {
	var b strings.Builder
	b.WriteString(l.GetLevel().String())
	b.WriteByte(' ')
	b.WriteString(l.GetLogCategory().String())
	if l.GetCategory() != "" {
		b.WriteString(" [" + l.GetCategory() + "]")
	}
	if l.GetInvocationId() != "" {
		b.WriteString(" invocation=" + l.GetInvocationId())
	}
	b.WriteString(": ")
	b.WriteString(strings.ReplaceAll(l.GetMessage(), "\n", "\\n"))
	if e := l.GetException(); e != nil && e.GetMessage() != "" {
		b.WriteString(" exception: " + strings.ReplaceAll(e.GetMessage(), "\n", "\\n"))
	}
	return b.String()
}

// Stream is the worker's EventStream, for the load engine once the handshake is done. Exactly one
// goroutine may call Send and one may call Recv.
func (w *Worker) Stream() Stream {
	w.handedOut = true
	return w.stream
}

// Exited is closed when the worker process has exited.
func (w *Worker) Exited() <-chan struct{} { return w.proc.exited }

// ExitCode is the process exit code, and false while it runs.
func (w *Worker) ExitCode() (int, bool) {
	if w.proc.alive() {
		return 0, false
	}
	return w.proc.code, true
}

// ExitState describes how the process ended ("exit status 3", "signal: killed").
func (w *Worker) ExitState() string {
	if w.proc.alive() {
		return "running"
	}
	return w.proc.state
}

// Has reports whether the worker advertised a capability, with the host's presence semantics: any
// non-empty value switches a feature on, "false" included.
func (w *Worker) Has(capability string) bool { return HasCapability(w.Capabilities, capability) }

// HasCapability applies the host's capability semantics to a capability map.
func HasCapability(caps map[string]string, key string) bool {
	v := caps[key]
	switch key {
	case "WorkerApplicationInsightsLoggingEnabled", "WorkerOpenTelemetryEnabled":
		b, err := strconv.ParseBool(v)
		return err == nil && b
	}
	return v != ""
}

// Ping sends a WorkerStatusRequest and waits for its response, matched on request_id. For use
// while no engine owns the stream (probe); the engine pings on its own.
func (w *Worker) Ping(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	if !w.Has("WorkerStatus") {
		return 0, errors.New("worker does not advertise WorkerStatus")
	}
	id := guid.New()
	start := time.Now()
	if err := w.send(&rpc.StreamingMessage{RequestId: id, Content: &rpc.StreamingMessage_WorkerStatusRequest{WorkerStatusRequest: &rpc.WorkerStatusRequest{}}}); err != nil {
		return 0, err
	}
	_, err := w.recvKind(ctx, timeout, "ping", "WorkerStatusResponse", "", func(m *rpc.StreamingMessage) bool {
		return m.GetWorkerStatusResponse() != nil && m.GetRequestId() == id
	})
	if err != nil {
		return 0, err
	}
	rtt := time.Since(start)
	w.step("ping", rtt.String())
	return rtt, nil
}

// Shutdown ends the worker as the host does: WorkerTerminate with a 5 s grace period when the worker
// advertises HandlesWorkerTerminateMessage, a wait for it to exit within grace, then kill and reap.
// The caller must have stopped sending on the stream. It returns the exit code (-1: killed by a signal).
func (w *Worker) Shutdown(grace time.Duration) int {
	if w.ended {
		return w.proc.code
	}
	w.ended = true
	if !w.proc.alive() {
		w.endHow = "had exited by itself (" + w.proc.state + ")"
	} else {
		if w.Has("HandlesWorkerTerminateMessage") && w.stream != nil {
			if err := w.send(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_WorkerTerminate{
				WorkerTerminate: &rpc.WorkerTerminate{GracePeriod: durationpb.New(TerminateGrace)}}}); err != nil {
				grace = 0 // the stream is gone (e.g. ended because the worker stopped reading): nothing to wait for
				w.terminateFailed = true
			} else {
				w.terminateSent = true
			}
			w.step("terminate", "WorkerTerminate sent, grace "+TerminateGrace.String())
			if !w.handedOut && !w.pending {
				// Nobody reads the stream: read it to the end so the worker's half-close ends the call.
				go func() {
					for {
						if _, err := w.stream.Recv(); err != nil {
							return
						}
					}
				}()
			}
			select {
			case <-w.proc.exited:
			case <-time.After(grace):
			}
		}
		if w.proc.alive() {
			w.killed = true
			w.step("kill", "")
		}
		switch {
		case w.terminateSent && w.killed:
			w.endHow = fmt.Sprintf("killed by fbench: still running %s after WorkerTerminate", grace)
		case w.terminateSent:
			w.endHow = "exited after WorkerTerminate (" + w.proc.stateNow() + ")"
		case w.terminateFailed && w.killed:
			w.endHow = "killed by fbench: its stream could no longer take WorkerTerminate"
		case w.killed:
			w.endHow = "killed by fbench, no WorkerTerminate sent: the worker does not advertise HandlesWorkerTerminateMessage (the host kills such a worker too)"
		default:
			w.endHow = "exited by itself while fbench ended it (" + w.proc.stateNow() + ")"
		}
	}
	w.abort()
	w.step("exit", w.proc.state)
	return w.proc.code
}

// KilledAtShutdown reports whether Shutdown had to kill the worker: it was still running when the
// grace after WorkerTerminate (or none, when it cannot take one) ran out.
func (w *Worker) KilledAtShutdown() bool { return w.killed }

// TerminateSent reports whether Shutdown sent WorkerTerminate (the worker advertises
// HandlesWorkerTerminateMessage and its stream took it); TerminateFailed, whether it tried and the
// stream could no longer take it.
func (w *Worker) TerminateSent() bool   { return w.terminateSent }
func (w *Worker) TerminateFailed() bool { return w.terminateFailed }

// EndedHow describes, after Shutdown, how the worker ended, in the words the report uses.
func (w *Worker) EndedHow() string { return w.endHow }

// abort kills the process if it is alive, ends the stream and closes the log.
func (w *Worker) abort() {
	w.proc.kill()
	w.srv.forget(w.ID)
	w.endStream()
	w.Log.Close()
}

// endStream ends the server side of the stream (once).
func (w *Worker) endStream() {
	w.endOnce.Do(func() { close(w.sess.done) })
}

// endingStream ends the server side of the stream as soon as reading fails: when the worker
// half-closes (io.EOF) the host ends the call too, as the real host's read loop does.
type endingStream struct {
	Stream
	end func()
}

func (s *endingStream) Recv() (*rpc.StreamingMessage, error) {
	m, err := s.Stream.Recv()
	if err != nil {
		s.end()
	}
	return m, err
}

// RecvMsg is Recv for the engine's raw frames: it ends the stream the same way.
func (s *endingStream) RecvMsg(m any) error {
	err := s.Stream.RecvMsg(m)
	if err != nil {
		s.end()
	}
	return err
}

// EndStream ends the server side of the worker's stream: a Send blocked by flow control (a worker
// that stopped reading) returns, and the worker sees its call end.
func (w *Worker) EndStream() { w.endStream() }

// awaitLoads waits for the FunctionLoadResponse of every pending function (keyed by id) and returns
// when the last one came in. Loaded functions go to w.Functions, failed ones to w.Failed; it fails
// when none loads.
func (w *Worker) awaitLoads(ctx context.Context, opt Options, pending map[string]*Function) (last time.Time, err error) {
	for len(pending) > 0 {
		m, err := w.recvKind(ctx, opt.LoadTimeout, "load", "FunctionLoadResponse", "", func(m *rpc.StreamingMessage) bool {
			return m.GetFunctionLoadResponse() != nil
		})
		if err != nil {
			return last, err
		}
		lr := m.GetFunctionLoadResponse()
		f, ok := pending[lr.GetFunctionId()]
		if !ok {
			w.UnknownMessages++
			continue
		}
		last = w.recvAt
		delete(pending, f.ID)
		if lr.GetResult().GetStatus() != rpc.StatusResult_Success {
			f.LoadError = resultText(lr.GetResult())
			w.Failed = append(w.Failed, f)
			w.step("load "+f.Name, "failed: "+f.LoadError)
			continue
		}
		w.Functions = append(w.Functions, f)
		w.step("load "+f.Name, "id "+f.ID)
	}
	if len(w.Functions) == 0 {
		msg := "no function loaded"
		if len(w.Failed) > 0 {
			msg = fmt.Sprintf("function %s failed to load: %s", w.Failed[0].Name, w.Failed[0].LoadError)
		}
		return last, &Error{Phase: "load", Msg: msg}
	}
	return last, nil
}
