//go:build !linux

package procstat

// Sampler reads a process tree from /proc; on this platform every Sample
// returns ErrUnsupported.
type Sampler struct{}

// NewSampler returns a sampler of process pid and its descendants.
func NewSampler(pid int) *Sampler { return &Sampler{} }

// NewSelfSampler returns a sampler of the current process.
func NewSelfSampler() *Sampler { return &Sampler{} }

// Sample returns ErrUnsupported on non-Linux platforms.
func (s *Sampler) Sample() (Sample, error) { return Sample{}, ErrUnsupported }
