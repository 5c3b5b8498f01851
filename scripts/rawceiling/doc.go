// Command rawceiling measures the raw ceiling of the fbench transport: the fastest a minimal host and
// worker, built from the same generated code (protos/rpc) and the same grpc options as fbench, push
// HTTP-shaped invocations over one bidi EventStream on loopback, with no fbench logic. fbench's own
// figure divided by this one is its saturation ratio.
//
//	rawceiling host [--duration 10s] [--depth 4096] [--body-bytes 0] [--pingpong 2s] [--json]
//	                [--rate R] [--worker-cmd "fbench worker --dispatch=inline"]
//
// --rate R is the paced raw sender: open loop at R/s with fbench's pacing (paced.go), its CPU per
// invocation the floor of fbench's at the rates real workers run. --worker-cmd drives another
// worker (the reference worker) through the Functions handshake (handshake.go), and the raw
// worker answers that handshake when fbench launches it, so that the harnesses and the workers
// can be compared apart: each harness with each worker.
//
// The host listens on 127.0.0.1:0, re-executes itself as `rawceiling worker --port P` (a separate
// process, no shell), accepts the worker's EventStream (StartStream first), then one sender goroutine
// sends InvocationRequests (input_data "req" = RpcHttp{POST, url, nullable_headers, body bytes},
// trace_context, a fresh 36-char id each) keeping at most --depth in flight, and one receiver
// goroutine counts the InvocationResponses (result Success, return_value http{status_code "200",
// body = the request body}). After --warmup it measures for --duration: completed invocations/s,
// host CPU per invocation (getrusage RUSAGE_SELF), worker CPU per invocation (/proc/<pid>/stat
// utime+stime over the same window) and mean round trip. Then, with --pingpong > 0, the same at
// depth 1 on the same stream.
//
// Honest: real proto marshalling and unmarshalling of every message on both sides (grpc's default
// proto codec), one stream, two processes, the same message shapes fbench sends.
//
// What made it fast (measured on the 2-vCPU dev VM, host and worker sharing both cores; CPU per
// invocation is the robust figure on a shared machine, throughput swings with other load):
//   - Reused messages. The host keeps one StreamingMessage template and only sets invocation_id and
//     trace_context.traceparent per send, as fbench does; the worker keeps one response and sets
//     invocation_id and the body slice. Both RecvMsg into one reused StreamingMessage. What is left
//     is proto size+encode and decode, which dominate the profile (the request's maps and oneofs).
//   - The worker answers inline on its reader goroutine (--worker-mode inline). grpc's Send only
//     encodes and queues a frame (its loopy writer goroutine does the batched socket writes), so a
//     sender goroutine fed by a channel (--worker-mode chan) only added a hand-off: 91-169k/s vs
//     175-195k/s on a quiet machine, more CPU per invocation.
//   - GOMAXPROCS 1 in each process (--procs, --worker-procs): two processes on two cores, and the
//     app goroutines hand off to grpc's reader/writer goroutines constantly. GOMAXPROCS 2 gave
//     106-110k/s at 8.3 µs/inv against 175-195k/s at 4.7-5.2 µs/inv.
//   - GOGC 400 in both processes (--gc, --worker-gc; 0 = Go's default 100): the live heap is small,
//     so GC runs less often for little memory; about 15-25% less CPU per invocation (quiet: 243k/s
//     at 3.9 µs/inv against 175-195k/s at 4.7-5.2 µs/inv).
//   - A deep pipeline (--depth 4096) keeps both processes busy and lets grpc coalesce many frames
//     per write syscall; depth 256 was slower (80-106k/s); unbounded (--depth 0, HTTP/2 flow control
//     only) was no faster and only grows queues and round trips (0.4-0.7 s).
//   - No shared per-invocation state between the host's sender and receiver: the send time rides in
//     the id (seq in the first 16 hex digits, send time in the last 16), the worker echoes it, and
//     the receiver computes the round trip from the id alone. In-flight limiting is one buffered
//     channel of tokens.
//
// As a program under scripts/, it may import any fbench package except cmd/... (scripts/layout
// checks this).
package main
