// Package loadgen is fbench's load engine: it drives a worker whose handshake is done (see
// loadgen/host) with InvocationRequests on an arrival schedule (open loop) or at a fixed
// concurrency (closed loop), sends InvocationCancels and status pings on the same stream, matches
// every response to its request and records three clocks per invocation (rtt from the intended send
// time, service from the actual send time, and the lag between them) in interval histograms.
//
// One invocation's trip: the sender goroutine takes the next intended time from the Schedule,
// sleeps until it, stamps the actual send time, registers the invocation in the tracker and writes
// it to the stream; the receiver goroutine reads the response, settles it in the tracker and hands
// the three clocks to the recorder; every interval the recorder's histograms go to the sink
// (report.RunWriter) and start afresh.
//
// It may import loadgen/host, report (for the run's data model only: IntervalRecord, Counts, the
// histograms; never its writers) and the leaves (protos/rpc, loadgen/guid, loadgen/dist,
// loadgen/procstat); never report/slo, report/compare, profiles, loadgen/coldstart, loadgen/runner,
// loadgen/capacity or cmd (scripts/layout checks this).
package loadgen
