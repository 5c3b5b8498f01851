// Package slo holds fbench's service-level objectives: parsing "METRIC OP VALUE" expressions
// (Parse, and ParseColdstart for cold-start runs), checking them on a run's summary
// (Objective.Check, Evaluate, Pass) or on a cold-start report (EvaluateColdstart), and over every
// window of a run's time line (Evaluator, fed the intervals as a report.IntervalObserver). The
// expressions and their metrics are described in slo.go.
//
// Its results are report.SLOResult values, part of the run's data model, so summary.json does
// not depend on this package. slo imports report (the data model) and nothing else of fbench:
// not report/compare, loadgen, profiles or cmd. report must not import slo: the run writer takes
// the evaluator as a report.Evaluator and a report.IntervalObserver.
package slo
