package main

// floors is fbench's house: the floor of every package, by its path inside the module. A package
// imports only packages on lower floors, or one on its own floor where sameFloor lists the edge;
// nothing outside cmd/ imports cmd/...; no code outside tests imports a testOnly package. A new
// package goes into this table, on the floor its imports and importers put it.
var floors = map[string]int{
	// The leaves: no fbench imports.
	"protos/rpc":       0,
	"loadgen/guid":     0,
	"loadgen/dist":     0,
	"loadgen/procstat": 0,
	"loadgen/precise":  0,
	// How a test binary stands in for a worker (tests only, see testOnly).
	"loadgen/refworker/workertest": 0,
	// The golden-file check of report's, report/slo's and report/compare's tests (tests only).
	"report/internal/goldenfile": 0,

	// Host impersonation, the reference worker, the run's data model and its writers.
	"loadgen/host":      1,
	"loadgen/refworker": 1,
	"report":            1,

	// SLOs, comparison, and the engine (which imports report for its data model only).
	"report/slo":     2,
	"report/compare": 2,
	"loadgen":        2,

	// Load profiles and cold starts, on the engine.
	"profiles":          3,
	"loadgen/coldstart": 3,

	// One benchmark end to end: plan, worker(s), engine, run directory.
	"loadgen/runner": 4,

	// The capacity search.
	"loadgen/capacity": 5,

	// The CLI: flags, help, printing and exit codes.
	"cmd/fbench": 6,

	// Programs under scripts/: they may import anything but cmd/...
	"scripts/benchdriver": 7,
	"scripts/layout":      7,
	"scripts/rawceiling":  7,
}

// sameFloor lists the imports allowed between two packages on one floor, as {importer, imported}.
var sameFloor = map[[2]string]bool{
	// compare names, parses and measures a metric as an objective's (slo.Parse, Objective.Measure).
	{"report/compare", "report/slo"}: true,
}

// testOnly lists the packages that only tests may import.
var testOnly = map[string]bool{
	"loadgen/refworker/workertest": true,
	"report/internal/goldenfile":   true,
}
