package host

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/protos/rpc"
)

// ExitCodeRestart is the exit code with which a worker asks the host to restart it ("Language
// Worker Process exited and needs to be restarted"): the host restarts it without counting an error.
const ExitCodeRestart = 200

// process is a started worker process with its output captured line by line.
type process struct {
	cmd    *exec.Cmd
	log    *WorkerLog
	exited chan struct{} // closed once the process has exited and its output is drained
	code   int           // exit code (valid after exited); -1 when killed by a signal
	state  string        // how it ended, e.g. "exit status 3" or "signal: killed"
	start  time.Time
}

// startProcess starts c without a shell; stdout and stderr go line by line to log.
func startProcess(c *Command, log *WorkerLog, g *guard, guardErr error) (*process, error) {
	cmd := &exec.Cmd{Path: c.Path, Args: c.Args, Dir: c.Dir, Env: c.Env}
	// The worker gets its own process group, so fbench can end its children too, and dies with
	// fbench (see lifetime_linux.go).
	cmd.SysProcAttr = workerSysProcAttr()
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	p := &process{cmd: cmd, log: log, exited: make(chan struct{}), start: time.Now()}
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{outR, outW, errR, errW} {
			f.Close()
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("starting %s: %v", c.Path, pe.Err)
		}
		return nil, fmt.Errorf("starting %s: %w", c.Path, err)
	}
	outW.Close()
	errW.Close()
	// The guard kills the worker's process group if fbench dies; without one (it could not
	// start), the parent-death signal still ends the worker itself.
	g.watch(cmd.Process.Pid)
	if guardErr != nil {
		log.Line("fbench", "no process-group guard ("+guardErr.Error()+"): if fbench is killed, the worker's own children may outlive it")
	}
	var drained sync.WaitGroup
	drained.Add(2)
	go func() { defer drained.Done(); log.copyLines("stdout", outR) }()
	go func() { defer drained.Done(); log.copyLines("stderr", errR) }()
	go func() {
		// Once the worker has exited, and before it is reaped (its process group id stays
		// reserved until then), whatever it left running in its group is killed.
		waitExitedNoReap(cmd.Process.Pid)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		g.release(cmd.Process.Pid) // before the reaping frees the group's id for reuse
		err := cmd.Wait()
		p.code = 0
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				p.code = ee.ExitCode()
			} else {
				p.code = -1
			}
			p.state = err.Error()
		} else {
			p.state = "exit status 0"
		}
		// Give the output readers a moment to take the last lines (a grandchild may hold the pipes).
		done := make(chan struct{})
		go func() { drained.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(500 * time.Millisecond):
		}
		outR.Close()
		errR.Close()
		close(p.exited)
	}()
	return p, nil
}

// stateNow is the exit state once the process has exited ("running" before).
func (p *process) stateNow() string {
	if p.alive() {
		return "running"
	}
	return p.state
}

// pid is the worker's process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// alive reports whether the process has not exited yet.
func (p *process) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill ends the process group and waits for the exit to be recorded.
func (p *process) kill() {
	if p.alive() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		_ = p.cmd.Process.Kill()
	}
	<-p.exited
}

// WorkerLog writes a worker's stdout/stderr lines and RpcLog messages to one file, line by line,
// and keeps the last stderr lines for error messages. Writes go through a bounded queue to one
// writer goroutine: when the worker logs faster than the disk takes it, lines are dropped and
// counted instead of slowing the stream down.
type WorkerLog struct {
	lines   chan logLine
	done    chan struct{}
	mu      sync.Mutex
	tail    []string // last stderr lines (ring, oldest first)
	tailMax int
	dropped atomic.Int64
	written atomic.Int64
	start   time.Time
	sendMu  sync.RWMutex // held for reading while queueing, for writing while closing
	closed  bool
	label   atomic.Pointer[string] // starts every line queued once set (see SetLabel)
}

// logBatch is the most the log's writer gathers before writing: whole lines only, so that the
// processes of a pool, each with its own WorkerLog on one shared file, never cut into each
// other's lines.
const logBatch = 64 << 10

// logLine is one queued line; the writer goroutine formats it, so that a flooding worker costs
// the stream's reader only the queueing (and, once the queue is full, a counted drop).
type logLine struct {
	label  string
	at     time.Duration
	source string
	text   string
	rpc    *rpc.RpcLog // an RpcLog, formatted by rpcLogText (text unused)
	raw    []byte      // an encoded RpcLog, decoded and formatted by the writer (text unused)
}

// NewWorkerLog opens path for the worker log (w may be nil: then lines are only counted and the
// stderr tail kept).
func NewWorkerLog(w io.Writer) *WorkerLog {
	l := &WorkerLog{lines: make(chan logLine, 8192), done: make(chan struct{}), tailMax: 20, start: time.Now()}
	go func() {
		defer close(l.done)
		var batch []byte
		for line := range l.lines {
			if w == nil {
				continue
			}
			text := line.text
			if line.raw != nil {
				var m rpc.RpcLog
				if err := proto.Unmarshal(line.raw, &m); err != nil {
					text = fmt.Sprintf("malformed RpcLog (%d bytes): %v", len(line.raw), err)
				} else {
					line.rpc = &m
				}
			}
			if line.rpc != nil {
				text = rpcLogText(line.rpc)
			}
			n := len(batch)
			batch = fmt.Appendf(append(batch, line.label...), "%10.3f %s %s\n", line.at.Seconds(), line.source, text)
			if len(batch) > logBatch && n > 0 {
				_, _ = w.Write(batch[:n]) // the lines before this one, whole
				batch = append(batch[:0], batch[n:]...)
			}
			if len(l.lines) == 0 || len(batch) >= logBatch {
				_, _ = w.Write(batch)
				batch = batch[:0]
			}
		}
	}()
	return l
}

// Line queues one line for the log file; it never blocks.
func (l *WorkerLog) Line(source, text string) {
	l.queue(logLine{at: time.Since(l.start), source: source, text: text})
}

// rpcLog queues an RpcLog for the log file; it never blocks.
func (l *WorkerLog) rpcLog(m *rpc.RpcLog) {
	l.queue(logLine{at: time.Since(l.start), source: "rpclog", rpc: m})
}

// RPCLogBytes queues an encoded RpcLog (copied) for the log file; it never blocks. The writer
// decodes it: a flood costs the caller a copy, or a counted drop once the queue is full.
func (l *WorkerLog) RPCLogBytes(b []byte) {
	if len(l.lines) == cap(l.lines) {
		l.dropped.Add(1) // full: spare the copy
		return
	}
	l.queue(logLine{at: time.Since(l.start), source: "rpclog", raw: append(make([]byte, 0, len(b)+1), b...)})
}

// SetLabel starts every line queued from now on with label: with several worker processes
// writing to one log, each line says which process it came from ("[pid N] ").
func (l *WorkerLog) SetLabel(label string) { l.label.Store(&label) }

func (l *WorkerLog) queue(line logLine) {
	if s := l.label.Load(); s != nil {
		line.label = *s
	}
	l.sendMu.RLock()
	defer l.sendMu.RUnlock()
	if l.closed {
		return
	}
	select {
	case l.lines <- line:
		l.written.Add(1)
	default:
		l.dropped.Add(1)
	}
}

func (l *WorkerLog) copyLines(source string, r io.Reader) {
	readLines(r, lineHeadMax, lineTailMax, func(line string) {
		if source == "stderr" {
			l.mu.Lock()
			if len(l.tail) == l.tailMax {
				copy(l.tail, l.tail[1:])
				l.tail = l.tail[:l.tailMax-1]
			}
			l.tail = append(l.tail, line)
			l.mu.Unlock()
		}
		l.Line(source, line)
	})
}

// What fbench keeps of one output line: its first lineHeadMax and last lineTailMax bytes; the
// middle of a longer line is read and counted, not kept.
const (
	lineHeadMax = 8 << 10
	lineTailMax = 2 << 10
)

// readLines reads r to its end and calls emit for every line, split as .NET's stream reader splits
// them for the host (on "\n", "\r" or "\r\n"; a last line without an end is delivered too). A line
// of any length never stops the reading: beyond headMax+tailMax bytes only its head and tail are
// kept, with the number of bytes left out between them.
func readLines(r io.Reader, headMax, tailMax int, emit func(string)) {
	buf := make([]byte, 64<<10)
	var head, tail []byte
	total := 0
	started, skipLF := false, false
	add := func(p []byte) {
		started = true
		total += len(p)
		if n := min(headMax-len(head), len(p)); n > 0 {
			head = append(head, p[:n]...)
			p = p[n:]
		}
		if len(p) == 0 {
			return
		}
		if len(p) >= tailMax {
			tail = append(tail[:0], p[len(p)-tailMax:]...)
			return
		}
		tail = append(tail, p...)
		if over := len(tail) - tailMax; over > 0 {
			copy(tail, tail[over:])
			tail = tail[:tailMax]
		}
	}
	flush := func() {
		line := string(head)
		if kept := len(head) + len(tail); total > kept {
			line += fmt.Sprintf(" …[%d bytes of this line not kept]… ", total-kept)
		}
		line += string(tail)
		emit(line)
		head, tail, total, started = head[:0], tail[:0], 0, false
	}
	for {
		n, err := r.Read(buf)
		chunk := buf[:n]
		for len(chunk) > 0 {
			if skipLF {
				skipLF = false
				if chunk[0] == '\n' {
					chunk = chunk[1:]
					continue
				}
			}
			i := bytes.IndexAny(chunk, "\r\n")
			if i < 0 {
				add(chunk)
				break
			}
			add(chunk[:i])
			flush()
			skipLF = chunk[i] == '\r'
			chunk = chunk[i+1:]
		}
		if err != nil {
			if started {
				flush()
			}
			return
		}
	}
}

// Tail returns the last stderr lines, oldest first.
func (l *WorkerLog) Tail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.tail...)
}

// Dropped is the number of lines not written because the writer could not keep up.
func (l *WorkerLog) Dropped() int64 { return l.dropped.Load() }

// Close flushes the queued lines and stops the writer.
func (l *WorkerLog) Close() {
	l.sendMu.Lock()
	if l.closed {
		l.sendMu.Unlock()
		return
	}
	l.closed = true
	close(l.lines)
	l.sendMu.Unlock()
	<-l.done
}

// tailText formats the stderr tail for an error line.
func tailText(lines []string) string {
	if len(lines) == 0 {
		return "no stderr output"
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return "last stderr: " + strings.Join(lines, " | ")
}
