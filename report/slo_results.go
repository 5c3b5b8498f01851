package report

import "fmt"

// FailedSLOs describes each SLO of s that failed: expression, window scope and observed value.
func FailedSLOs(s *Summary) []string {
	var failed []string
	for _, r := range s.SLOs {
		if r.Pass {
			continue
		}
		scope := ""
		if r.WindowS > 0 {
			scope = fmt.Sprintf(" in every %g s window", r.WindowS)
		}
		failed = append(failed, fmt.Sprintf("%s%s (observed %s)", r.Expression, scope, r.Observed))
	}
	return failed
}
