// Package loadgen is fbench's load engine: it drives a worker whose handshake is done (see
// loadgen/host) with InvocationRequests on an arrival schedule (open loop) or at a fixed
// concurrency (closed loop), sends InvocationCancels and status pings on the same stream, matches
// every response to its request and records three clocks per invocation (rtt from the intended send
// time, service from the actual send time, and the lag between them) in interval histograms.
//
// One invocation's trip: the sender (sender.go) takes the next intended time from the Schedule
// (closed loop: the settle time of the slot just freed), paces to it, stamps the actual send time,
// registers the invocation in the tracker and writes it to the stream of the process the
// dispatcher picks (pool.go); that process's receiver (receiver.go) reads the response, settles it
// in the tracker and hands the three clocks to the recorder; every interval the run loop (loop.go)
// hands the recorder's histograms to the caller's Config.OnInterval (loadgen/runner's is the run
// directory's report.RunWriter) and they start afresh. The run loop also times out what goes
// unanswered, relaunches workers whose streams ended (restart.go) and ends the run: the drain,
// what is still in flight counted lost, the last interval (drain.go).
//
// It may import loadgen/host, report (for the run's data model only: IntervalRecord, Counts, the
// histograms; never its writers) and the leaves (protos/rpc, loadgen/guid, loadgen/dist,
// loadgen/procstat); never report/slo, report/compare, profiles, loadgen/coldstart, loadgen/runner,
// loadgen/capacity or cmd (scripts/layout checks this).
package loadgen
