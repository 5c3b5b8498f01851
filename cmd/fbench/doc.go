// Command fbench is a load and soak benchmarking harness for Azure Functions language workers. It
// impersonates the Functions host: it runs the FunctionRpc gRPC server, launches the worker as the
// host does, completes the handshake and floods the worker with invocations over its one
// EventStream, then writes a terminal summary and HTML, CSV, JSON and HdrHistogram reports.
//
// Usage:
//
//	fbench [run] [flags] [WORKER]     benchmark a worker (default: the built-in reference worker)
//	fbench probe [flags] [WORKER]     launch, handshake, ping and terminate; print the time line
//	fbench report [flags] DIR         rebuild a run directory's reports from its interval log
//	fbench compare [flags] BASE CUR   compare two runs (or sets of repeated runs) for regressions
//	fbench capacity [flags] [WORKER]  search the highest rate the worker sustains under its objectives
//	fbench coldstart [flags] [WORKER] time N cold starts phase by phase (--placeholder: specialization)
//	fbench merge [flags] RUN...       merge runs of one plan made on many machines into one run
//	fbench worker [flags]             the reference worker (fbench launches it; not for people)
//
// It holds flags, help, printing and exit codes only: each subcommand is a file that turns flags
// into a library call, and the whole stays under 1 000 lines of Go outside tests. It sits on the top
// floor: it may import every fbench package, and no package imports it (scripts/layout checks this).
package main
