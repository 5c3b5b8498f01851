// Package refworker is fbench's built-in reference language worker: a careful,
// cheap worker modelled on the .NET isolated worker that speaks the
// AzureFunctionsRpcMessages.FunctionRpc protocol, serves a few built-in
// functions (echo, work, fail, queue) and can misbehave on purpose (--fault)
// so the harness's failure handling can be tested.
//
// It deliberately shares no code with the harness (only the generated
// protocol package and loadgen/dist).
//
// Whatever it imports must be a leaf (protos/rpc, loadgen/guid, loadgen/dist, loadgen/procstat):
// never loadgen, loadgen/host, report or anything above them (scripts/layout checks this).
// loadgen/refworker/workertest, which lets a test binary run it, is for tests only.
package refworker
