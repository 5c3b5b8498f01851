//go:build linux

package main

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// pinThread locks the calling goroutine to its thread and sets the thread's timer slack to 1 ns,
// as fbench's open-loop sender does; it returns the unlock.
func pinThread() func() {
	runtime.LockOSThread()
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, 29 /* PR_SET_TIMERSLACK */, 1, 0)
	return runtime.UnlockOSThread
}

// rawSleepMax is fbench's: sleeps up to it (the whole precise window) keep the thread's P (a raw
// system call).
const rawSleepMax = preciseWindow

// nanosleep sleeps d on the current thread, as fbench's sender does.
func nanosleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var rem syscall.Timespec
		var err error
		if d <= rawSleepMax {
			if _, _, errno := syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&rem)), 0); errno != 0 {
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
