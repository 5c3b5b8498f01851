// Command benchdriver is scripts/bench.sh: it measures, in one run on this machine, fbench against
// the raw ceiling of its transport and prints a table, writes bench.json and ends with the line
// saturation_ratio=R.
//
//   - saturation, each harness with each worker: the raw host (scripts/rawceiling: a minimal
//     host, same generated code, no fbench logic) and fbench (closed loop), each driving the raw
//     worker and the reference worker's zero-work echo answered on its read loop (--ref
//     dispatch=inline, as the raw worker answers): invocations per second and CPU per invocation
//     of host and worker. The harness's ratio compares fbench with the raw host on the same
//     worker, the worker's ratio the reference worker with the raw worker under the same host;
//     saturation_ratio is the harness's, on the raw worker;
//   - footprint at the rates real workers run (1 000, 5 000 and 20 000/s): fbench's CPU per
//     invocation beside the paced raw sender's (rawceiling --rate: fbench's pacing, nothing else),
//     both driving the reference worker, and both lags;
//   - timing accuracy: open loop at 5 000, 20 000 and 50 000 invocations/s (and 5 000/s again with
//     --realtime-sender, and with the reference worker in HTTP proxying mode): achieved vs offered, lag
//     and harness_lag p50/p99/max, fbench's CPU per invocation;
//   - memory: fbench's RSS at 5 000/s after 10 s and after 2 minutes.
//
// Each figure is the median of --reps repetitions. --short shrinks every duration (CI proves the
// script works; its timings are not judged).
//
// As a program under scripts/, it may import any fbench package except cmd/... (scripts/layout
// checks this).
package main
