package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// HTTP functions in reports: the mode they were driven in, the statuses callers got, and the
// failure reasons.

func init() {
	// Counts of HTTP statuses by class, and the share of them in a class, as SLO metrics.
	for class, get := range map[string]func(c Counts) int64{
		"http_1xx": func(c Counts) int64 { return c.HTTP1xx },
		"http_2xx": func(c Counts) int64 { return c.HTTP2xx },
		"http_3xx": func(c Counts) int64 { return c.HTTP3xx },
		"http_4xx": func(c Counts) int64 { return c.HTTP4xx },
		"http_5xx": func(c Counts) int64 { return c.HTTP5xx },
	} {
		sloCounts[class] = get
		sloRatios[class+"_rate"] = func(c Counts) (int64, int64) { return get(c), httpStatuses(c) }
	}
}

// httpStatuses is the number of HTTP statuses counted (every class).
func httpStatuses(c Counts) int64 { return c.HTTP1xx + c.HTTP2xx + c.HTTP3xx + c.HTTP4xx + c.HTTP5xx }

// httpModeText describes an HTTP mode for people.
func httpModeText(mode string) string {
	switch mode {
	case "proxy":
		return "proxied to the worker's HttpUri (HTTP request and InvocationResponse, both awaited)"
	case "rpc":
		return "RpcHttp over the stream"
	}
	return mode
}

// statusLines lists each function's exact statuses, e.g. "echo: 200 ×998, 500 ×2".
func statusLines(hs HTTPStatusCounts) []string {
	fns := make([]string, 0, len(hs))
	for fn := range hs {
		fns = append(fns, fn)
	}
	sort.Strings(fns)
	var out []string
	for _, fn := range fns {
		codes := make([]string, 0, len(hs[fn]))
		for code := range hs[fn] {
			codes = append(codes, code)
		}
		sort.Slice(codes, func(i, j int) bool {
			a, _ := strconv.Atoi(codes[i])
			b, _ := strconv.Atoi(codes[j])
			return a < b
		})
		parts := make([]string, len(codes))
		for i, code := range codes {
			parts[i] = fmt.Sprintf("%s ×%d", code, hs[fn][code])
		}
		out = append(out, oneLine(fn)+": "+strings.Join(parts, ", "))
	}
	return out
}

// reasonLines lists failure reasons, most frequent first.
func reasonLines(fs map[string]int64) []string {
	rs := make([]string, 0, len(fs))
	for r := range fs {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool {
		if fs[rs[i]] != fs[rs[j]] {
			return fs[rs[i]] > fs[rs[j]]
		}
		return rs[i] < rs[j]
	})
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%d × %s", fs[r], oneLine(r))
	}
	return out
}

// httpCompareMetrics are the proxied HTTP clocks compare adds to its defaults when every usable
// run of both sides has them (runs in HTTP proxying mode).
func httpCompareMetrics(base, cur *RunSet) []string {
	runs := append(base.Usable(), cur.Usable()...)
	if len(runs) == 0 {
		return nil
	}
	for _, r := range runs {
		if r.Summary == nil || r.Summary.Latency[MetricHTTPTotal].Count == 0 {
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
