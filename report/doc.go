// Package report holds the data model of one fbench run and the writers that turn it into files a
// person or a machine reads: the HdrHistogram interval log (the source of truth), summary.json, the
// text summary, intervals.csv, percentiles.csv and report.html. It knows nothing about gRPC or workers.
//
// It may import only the leaves (protos/rpc, loadgen/guid, loadgen/dist, loadgen/procstat). SLO
// parsing and evaluation (report/slo), run comparison (report/compare), the engine and everything
// above sit on higher floors and must not be imported (scripts/layout checks this).
package report
