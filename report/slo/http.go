package slo

import (
	"github.com/fbench/fbench/report"
)

func init() {
	// Counts of HTTP statuses by class, and the share of them in a class, as SLO metrics.
	for class, get := range map[string]func(c report.Counts) int64{
		"http_1xx": func(c report.Counts) int64 { return c.HTTP1xx },
		"http_2xx": func(c report.Counts) int64 { return c.HTTP2xx },
		"http_3xx": func(c report.Counts) int64 { return c.HTTP3xx },
		"http_4xx": func(c report.Counts) int64 { return c.HTTP4xx },
		"http_5xx": func(c report.Counts) int64 { return c.HTTP5xx },
	} {
		counts[class] = get
		ratios[class+"_rate"] = func(c report.Counts) (int64, int64) { return get(c), httpStatuses(c) }
	}
}

// httpStatuses is the number of HTTP statuses counted (every class).
func httpStatuses(c report.Counts) int64 {
	return c.HTTP1xx + c.HTTP2xx + c.HTTP3xx + c.HTTP4xx + c.HTTP5xx
}
