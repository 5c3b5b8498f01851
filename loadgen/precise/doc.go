// Package precise holds the waits fbench's open-loop sender paces arrivals with: a thread pinned
// with 1 ns timer slack (in the SCHED_FIFO class when asked), a nanosleep for the last Window
// before an arrival, and Window itself (Go timers serve longer waits). loadgen's sender and
// scripts/rawceiling's paced raw sender both use it, so the raw floor the harness is compared with
// paces exactly as fbench does.
//
// It imports nothing of fbench (a leaf: scripts/layout checks this).
package precise

import "time"

// Window is how long before an arrival the sender stops using Go timers (millisecond resolution
// when the runtime is idle) and sleeps precisely.
const Window = 2 * time.Millisecond
