//go:build linux

package precise

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// The Go runtime's timers wake a parked thread through epoll with millisecond resolution, so a
// pacer built on time.Sleep alone is up to 1 ms late on every arrival. The sender therefore runs on
// its own OS thread with the kernel's timer slack at 1 ns, sleeps the last stretch before an
// arrival with nanosleep(2), and uses Go timers only for long waits.

const prSetTimerSlack = 29 // prctl(PR_SET_TIMERSLACK)

// PinThread locks the calling goroutine to its thread and makes that thread's sleeps precise;
// with realtime it also puts the thread in the SCHED_FIFO class (lowest priority), so that its
// wake-ups preempt every ordinary thread, the worker's included. It returns the function that
// undoes the lock, and why realtime was refused (nil if granted or not asked).
func PinThread(realtime bool) (func(), error) {
	runtime.LockOSThread()
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
	if !realtime {
		return runtime.UnlockOSThread, nil
	}
	param := struct{ priority int32 }{1}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, schedFIFO, uintptr(unsafe.Pointer(&param))); errno != 0 {
		return runtime.UnlockOSThread, errno
	}
	return func() {
		// Back to the ordinary class before the thread returns to the Go scheduler's pool.
		param := struct{ priority int32 }{0}
		_, _, _ = syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, schedOther, uintptr(unsafe.Pointer(&param)))
		runtime.UnlockOSThread()
	}, nil
}

const (
	schedOther = 0 // SCHED_OTHER
	schedFIFO  = 1 // SCHED_FIFO
)

// rawSleepMax is the longest sleep made without telling the Go scheduler: a nanosleep that keeps
// the sender's P (fbench runs with spare Ps) spares the hand-off of the P to another thread and
// back on every arrival. It covers the whole precise window (the sender never sleeps longer than
// Window here): at 1 000/s, arrivals 1 ms apart, sleeping through the scheduler cost twice
// the context switches per invocation (11.7 against 5.9, BenchmarkOpenLoopFootprint) and 30-40%
// more CPU, as the monitor thread took the idle P back from the system call and the sender's
// thread had to win one again. A garbage collection's stop-the-world waits for it at most this
// long (its preemption signals cut the sleep short). Longer sleeps go through the scheduler.
const rawSleepMax = Window

// Sleep sleeps d on the current thread with nanosleep(2).
func Sleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var rem syscall.Timespec
		var err error
		if d <= rawSleepMax {
			_, _, errno := syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&rem)), 0)
			if errno != 0 {
				err = errno
			}
		} else {
			err = syscall.Nanosleep(&ts, &rem)
		}
		if err != syscall.EINTR {
			return
		}
		ts = rem
	}
}
