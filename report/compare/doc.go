// Package compare holds the comparison of fbench runs: loading a run directory or a directory of
// repeated runs (LoadRunSet), each metric's statistics over a set of runs (median, spread, the
// bootstrap confidence interval of the change), the judgement against tolerances and the
// run-to-run noise (Runs), and its tables as text, Markdown and JSON (Comparison.WriteText and
// WriteMarkdown; WriteRunSetText for one set of repeated runs).
//
// compare imports report (the data model) and report/slo (a metric is named, parsed and measured
// as an objective's is), and nothing else of fbench: not loadgen, profiles or cmd. Neither report
// nor report/slo may import compare.
package compare
