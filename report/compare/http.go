package compare

import (
	"github.com/fbench/fbench/report"
)

// httpCompareMetrics are the proxied HTTP clocks compare adds to its defaults when every usable
// run of both sides has them (runs in HTTP proxying mode).
func httpCompareMetrics(base, cur *RunSet) []string {
	runs := append(base.Usable(), cur.Usable()...)
	if len(runs) == 0 {
		return nil
	}
	for _, r := range runs {
		if r.Summary == nil || r.Summary.Latency[report.MetricHTTPTotal].Count == 0 {
			return nil
		}
	}
	return []string{"http_ttfb.p50", "http_ttfb.p99", "http_total.p50", "http_total.p99"}
}

// httpModeName names an HTTP mode in one or two words.
func httpModeName(mode string) string {
	switch mode {
	case "proxy":
		return "proxied (HttpUri)"
	case "rpc":
		return "RpcHttp over the stream"
	}
	return "none invoked"
}
