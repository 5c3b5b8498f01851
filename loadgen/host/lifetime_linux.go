package host

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// How fbench keeps the worker from outliving it, however fbench ends (a kill -9 included):
//
//   - the worker leads its own process group, and gets SIGKILL from the kernel when fbench dies
//     (PR_SET_PDEATHSIG; it fires when the thread that started the worker ends, and fbench's
//     threads live as long as fbench: no goroutine of fbench exits while locked to its thread);
//   - a guard process, one per Server, started with it (so that no worker's start pays for it),
//     watches fbench: its stdin is a pipe from fbench, on which fbench names each worker's process
//     group when it starts and again when it has reaped it. The kernel closes the pipe when fbench
//     dies; the guard then kills every group still named (the worker's own children, which the
//     parent-death signal does not reach) and exits;
//   - when the worker exits, fbench kills what is left of its group before reaping it (the
//     exited leader keeps the group's id from being reused until then).
//
// A child that leaves the worker's process group (setsid, setpgid) escapes all three.

// workerSysProcAttr is how the worker is started: its own process group, SIGKILL when fbench dies.
func workerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// guardEnv names the environment variable that turns any binary importing this package into a
// guard (see init).
const guardEnv = "FBENCH_PROCESS_GROUP_GUARD"

func init() {
	// A guard process: fbench started its own binary (or a test binary) as one. It runs before
	// anything else the binary would do, and never returns.
	if os.Getenv(guardEnv) == "1" {
		_, _ = os.Stdout.Write([]byte{'r'}) // ready: fbench waits for it before starting workers
		os.Stdout.Close()
		os.Exit(runGuard(os.Stdin))
	}
}

// runGuard reads "+PGID" (watch) and "-PGID" (released) lines until fbench's pipe ends, then
// kills every process group still watched.
func runGuard(r io.Reader) int {
	watched := map[int]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 1 {
			continue
		}
		switch line[0] {
		case '+':
			watched[pgid] = true
		case '-':
			delete(watched, pgid)
		}
	}
	for pgid := range watched {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	return 0
}

// guard is a running guard process.
type guard struct {
	mu  sync.Mutex
	w   *os.File
	cmd *exec.Cmd
}

// startGuard starts a guard (fbench's own executable, in guard mode).
func startGuard() (*guard, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ready, readyW, err := os.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	cmd := &exec.Cmd{Path: self, Args: []string{"fbench-process-guard"}, Env: []string{guardEnv + "=1"}, Stdin: r, Stdout: readyW}
	// Its own process group: a terminal's ^C to fbench's group must not end the guard first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close()
	readyW.Close()
	if err != nil {
		w.Close()
		ready.Close()
		return nil, err
	}
	go func() { _ = cmd.Wait() }() // reap it whenever it ends
	// Wait until it runs, so that its start-up (an exec of fbench) is over before any worker's.
	_ = ready.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	n, _ := ready.Read(b[:])
	ready.Close()
	if n != 1 || b[0] != 'r' {
		w.Close()
		return nil, errors.New("the guard process did not start")
	}
	return &guard{w: w, cmd: cmd}, nil
}

func (g *guard) tell(sign byte, pgid int) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w != nil {
		_, _ = g.w.Write([]byte(string(sign) + strconv.Itoa(pgid) + "\n"))
	}
}

// watch names a worker's process group to the guard.
func (g *guard) watch(pgid int) { g.tell('+', pgid) }

// release tells the guard fbench has ended the group itself.
func (g *guard) release(pgid int) { g.tell('-', pgid) }

// close ends the guard; groups still watched are killed.
func (g *guard) close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w != nil {
		g.w.Close()
		g.w = nil
	}
}

// waitExitedNoReap blocks until process pid has exited, leaving it a zombie (waitid WNOWAIT), so
// that its process group id cannot be reused while fbench kills what is left of the group.
func waitExitedNoReap(pid int) {
	const pPID, wEXITED, wNOWAIT = 1, 4, 0x01000000
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), wEXITED|wNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}
