// Package host impersonates the Azure Functions host towards one language worker: it runs the gRPC
// server (FunctionRpc.EventStream) on 127.0.0.1, launches the worker process exactly as the host
// does, completes the handshake (StartStream, WorkerInitRequest, function discovery,
// FunctionLoadRequest) and hands the ready stream to the load engine. It knows nothing about load.
//
// It may import only the leaves (protos/rpc, loadgen/guid, loadgen/dist, loadgen/procstat): never
// the engine (loadgen), the reference worker, report or anything above them (scripts/layout checks
// this).
package host
