package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// HTTP functions in reports: the mode they were driven in, the statuses callers got, and the
// failure reasons.

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
