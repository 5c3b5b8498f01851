// Package runner runs one benchmark end to end: it turns settings into a validated Plan, launches
// the worker process(es) through the host's handshake, drives the engine (loadgen) over them,
// samples their resources, writes the run directory (report) and classifies how the run ended
// (crashed, interrupted, invalid, failed its gates). It also holds what the run-side commands share:
// probing a worker, repeating a run, the worker's launch options and the progress line.
//
// It is used by fbench's run, repeat, probe and capacity commands, and from Go without the CLI.
// It sits above loadgen, loadgen/host, profiles and report, and must not import cmd (nor
// loadgen/capacity, which builds on it). It decides no exit codes: its errors carry kinds
// (ErrCrashed, ErrInterrupted, ErrInvalid, ErrFailed) that the command maps to codes.
package runner
