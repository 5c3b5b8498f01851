package loadgen

import (
	"runtime"
	"syscall"
	"time"
)

// The Go runtime's timers wake a parked thread through epoll with millisecond resolution, so a
// pacer built on time.Sleep alone is up to 1 ms late on every arrival. The sender therefore runs on
// its own OS thread with the kernel's timer slack at 1 ns, sleeps the last stretch before an
// arrival with nanosleep(2), and uses Go timers only for long waits.

const prSetTimerSlack = 29 // prctl(PR_SET_TIMERSLACK)

// pinSenderThread locks the calling goroutine to its thread and makes that thread's sleeps precise.
// It returns the function that undoes it.
func pinSenderThread() func() {
	runtime.LockOSThread()
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
	return runtime.UnlockOSThread
}

// nanosleep sleeps d on the current thread.
func nanosleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var rem syscall.Timespec
		if err := syscall.Nanosleep(&ts, &rem); err != syscall.EINTR {
			return
		}
		ts = rem
	}
}
