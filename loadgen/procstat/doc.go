// Package procstat samples CPU, memory, thread and file-descriptor usage of a
// process tree from /proc (Linux only), and provides a robust trend estimator
// (Theil–Sen) for soak-test drift such as worker memory growth per hour.
//
// A Sampler is meant to be called periodically (e.g. once a second for 24 h)
// from a single goroutine; it reuses its buffers and does not allocate in the
// steady state. A Sampler is not safe for concurrent use.
//
// It is a leaf: it imports no fbench package (scripts/layout checks this).
package procstat
