//go:build !linux

package procstat

import "time"

// PeakRSS returns ErrUnsupported on non-Linux platforms.
func PeakRSS(pid int) (int64, error) { return 0, ErrUnsupported }

// ThreadCPU returns ErrUnsupported on non-Linux platforms.
func ThreadCPU(pid int) (time.Duration, error) { return 0, ErrUnsupported }
