//go:build !linux

package precise

import (
	"errors"
	"runtime"
	"time"
)

// PinThread locks the calling goroutine to its thread; precise sleeps and the SCHED_FIFO class
// need Linux, so realtime is refused.
func PinThread(realtime bool) (func(), error) {
	runtime.LockOSThread()
	if realtime {
		return runtime.UnlockOSThread, errors.New("SCHED_FIFO needs Linux")
	}
	return runtime.UnlockOSThread, nil
}

// Sleep sleeps d (a Go timer: no nanosleep outside Linux).
func Sleep(d time.Duration) { time.Sleep(d) }
