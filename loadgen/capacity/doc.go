// Package capacity searches the highest arrival rate a worker sustains while its objectives hold
// and the harness stays valid: it climbs ×2 from a start rate until a step fails, bisects between
// the last pass and the first fail, then confirms the rate found with a longer step.
//
// It holds the search (Search, Probe, Result), the judgement of one step (Assess, Objectives,
// Judge), the search's records and writers (Report: capacity.json, the step table, capacity.html)
// and the comparison of searches across worker-pool sizes (Pools: processes.json and
// processes.html).
//
// Every step is a fresh benchmark run, made by a StepRunner the caller supplies: the package
// decides the rates and judges each step, but never launches a worker itself, so its search and
// judge can be tested with a fake runner.
//
// It may import report and the packages below it; never loadgen/runner (the runner is handed in
// as a function) nor cmd (scripts/layout checks this).
package capacity
