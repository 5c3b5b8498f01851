// Package capacity searches the highest arrival rate a worker sustains while its objectives hold
// and the harness stays valid: it climbs ×2 from a start rate until a step fails, bisects between
// the last pass and the first fail, then confirms the rate found with a longer step.
//
// It holds the search (Search, Probe, Result), the judgement of one step (Assess, Objectives,
// Judge), the search's records and writers (Report: capacity.json, the step table, capacity.html)
// and the comparison of searches across worker-pool sizes (Pools: processes.json and
// processes.html).
//
// Every step is a fresh benchmark run, made by a StepRunner: RunnerSteps runs each step through
// loadgen/runner as fbench run does; the search and the judge take any StepRunner, so they are
// tested with a fake one.
//
// It may import loadgen/runner, report and the packages below them; never cmd (scripts/layout
// checks this).
package capacity
