// Package coldstart measures cold starts of a language worker as the Functions host sees them: a
// fresh worker process, timed phase by phase from its spawn to the answer of its first invocation,
// either started directly or through the host's placeholder path (a standby worker, specialized
// with FunctionEnvironmentReloadRequest). Measure measures one start; Run makes a plan's starts
// one after the other and writes their report (report.ColdstartReport), Judge says how the run
// fared and Rebuild rewrites a run directory's files from its coldstart.json.
//
// It may import loadgen, loadgen/host, report, report/slo and the leaves (protos/rpc, loadgen/guid,
// loadgen/dist, loadgen/procstat); never profiles, loadgen/runner, loadgen/capacity or cmd
// (scripts/layout checks this).
package coldstart
