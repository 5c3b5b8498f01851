// Package coldstart measures cold starts of a language worker as the Functions host sees them: a
// fresh worker process, timed phase by phase from its spawn to the answer of its first invocation,
// either started directly or through the host's placeholder path (a standby worker, specialized
// with FunctionEnvironmentReloadRequest). It measures one start at a time; the caller repeats,
// aggregates and reports.
//
// It may import loadgen, loadgen/host, report, report/slo and the leaves (protos/rpc, loadgen/guid,
// loadgen/dist, loadgen/procstat); never profiles, loadgen/runner, loadgen/capacity or cmd
// (scripts/layout checks this).
package coldstart
