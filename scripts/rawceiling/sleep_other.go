//go:build !linux

package main

import (
	"runtime"
	"time"
)

func pinThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

func nanosleep(d time.Duration) { time.Sleep(d) }
