package procstat

import (
	"errors"
	"time"
)

// ErrProcessGone is returned (wrapped) by Sampler.Sample when the root
// process no longer exists, is a zombie, or its pid was reused by another
// process.
var ErrProcessGone = errors.New("procstat: process gone")

// ErrUnsupported is returned by Sampler.Sample on platforms without a Linux
// style /proc.
var ErrUnsupported = errors.New("procstat: unsupported platform")

// MaxProcesses caps the number of processes summed in one tree sample.
const MaxProcesses = 4096

// Sample is one reading of a process tree.
type Sample struct {
	At time.Time

	// CPUUser and CPUSystem are cumulative CPU times of the whole tree.
	//
	// For tree samplers they include, per live process, the cutime/cstime of
	// children that process has already reaped, so the CPU of a descendant
	// that exits and is waited for by a tree member stays in the sum. CPU of
	// descendants that exit and are reaped outside the tree (orphans
	// re-parented to init or a subreaper) is lost, so the sum may drop;
	// CPUPercent clamps such drops to 0. Resolution is one clock tick (10 ms).
	CPUUser, CPUSystem time.Duration

	RSSBytes  int64 // resident set size, summed over the tree
	Threads   int64 // threads, summed over the tree
	FDs       int64 // open file descriptors, summed over the tree (0 for processes we may not inspect)
	Processes int   // processes in the tree (root included), at most MaxProcesses

	// Goroutines is runtime.NumGoroutine(); set only by a NewSelfSampler sampler.
	Goroutines int
}

// CPUPercent is the CPU used between two samples as percent of one core (may
// exceed 100 on multi-core). It returns 0 if the samples are not in time order
// or if cumulative CPU went down (descendants lost from the sum).
func CPUPercent(prev, cur Sample) float64 {
	wall := cur.At.Sub(prev.At)
	if wall <= 0 {
		return 0
	}
	cpu := (cur.CPUUser + cur.CPUSystem) - (prev.CPUUser + prev.CPUSystem)
	if cpu <= 0 {
		return 0
	}
	return 100 * float64(cpu) / float64(wall)
}
