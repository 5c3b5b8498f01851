package host

import (
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"unsafe"
)

// How fbench keeps the worker from outliving it, however fbench ends (a kill -9 included):
//
//   - the worker leads its own process group, and gets SIGKILL from the kernel when fbench dies
//     (PR_SET_PDEATHSIG; it fires when the thread that started the worker ends, and fbench's
//     threads live as long as fbench: no goroutine of fbench exits while locked to its thread);
//   - a guard process watches fbench: its stdin is a pipe from fbench, which the kernel closes
//     when fbench dies, and then it kills the worker's whole process group (the worker's own
//     children, which the parent-death signal does not reach). When fbench ends the worker
//     itself, it tells the guard so first, and the guard exits without killing anything.
//   - when the worker exits, fbench kills what is left of its group before reaping it (the
//     exited leader keeps the group's id from being reused until then).
//
// A child that leaves the worker's process group (setsid, setpgid) escapes all three.

// workerSysProcAttr is how the worker is started: its own process group, SIGKILL when fbench dies.
func workerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// guardEnv names the environment variable that turns any binary importing this package into a
// guard (see init): its value is the process group to kill when fbench's pipe closes.
const guardEnv = "FBENCH_PROCESS_GROUP_GUARD"

// guardRelease is the byte fbench writes to its guard when it has ended the worker itself.
const guardRelease = 'x'

func init() {
	// A guard process: fbench started its own binary (or a test binary) as one. It runs before
	// anything else the binary would do, and never returns.
	if v := os.Getenv(guardEnv); v != "" {
		pgid, err := strconv.Atoi(v)
		if err != nil || pgid <= 1 {
			os.Exit(2)
		}
		os.Exit(runGuard(os.Stdin, pgid))
	}
}

// runGuard waits for fbench's pipe to end: released (fbench ended the worker) or closed without
// release (fbench died): then it kills the process group.
func runGuard(r io.Reader, pgid int) int {
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 && b[0] == guardRelease {
			return 0
		}
		if err != nil {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			return 0
		}
	}
}

// guard is a running guard process for one worker's process group.
type guard struct {
	w   *os.File
	cmd *exec.Cmd
}

// startGuard starts a guard for process group pgid (fbench's own executable, in guard mode).
func startGuard(pgid int) (*guard, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{Path: self, Args: []string{"fbench-process-guard"}, Env: []string{guardEnv + "=" + strconv.Itoa(pgid)}, Stdin: r}
	// Its own process group: a terminal's ^C to fbench's group must not end the guard first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	r.Close()
	go func() { _ = cmd.Wait() }() // reap it whenever it ends
	return &guard{w: w, cmd: cmd}, nil
}

// release tells the guard fbench has ended the worker itself: it exits without killing.
func (g *guard) release() {
	if g == nil {
		return
	}
	_, _ = g.w.Write([]byte{guardRelease})
	g.w.Close()
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
