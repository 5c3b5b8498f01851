// Package workertest lets a package's test binary stand in for a worker process, so that tests
// launch a real worker (the reference worker, or another program's main) without building one.
//
// The test binary is re-executed: the host under test launches os.Executable() with a variable in
// its environment, and the package's TestMain, seeing the variable, runs the worker instead of the
// tests. A package whose tests launch the reference worker writes:
//
//	func TestMain(m *testing.M) { workertest.Main(m, workertest.Worker(refworker.Main)) }
//
// and launches it with the worker's settings (reference-worker flags, blank-separated):
//
//	host.Launch{Worker: workertest.Executable(t), Language: "fbench-test", Env: workertest.Env("--fault crash-after=200")}
//
// or, when the launch passes on only what the test process itself has in its environment,
// workertest.Setenv(t, refArgs); a test that starts the process itself uses Command. Other parts the
// binary can play (a CLI's main, a program that writes long lines) are further Roles given to Main.
//
// workertest is for tests only: no non-test code imports it (scripts/layout checks this). It
// imports nothing from fbench, so that every package's tests, the reference worker's own
// included, can use it.
package workertest
