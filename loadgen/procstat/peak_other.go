//go:build !linux

package procstat

// PeakRSS returns ErrUnsupported on non-Linux platforms.
func PeakRSS(pid int) (int64, error) { return 0, ErrUnsupported }
