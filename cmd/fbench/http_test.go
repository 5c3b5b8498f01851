package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/report"
)

func TestProbeSaysTheHTTPMode(t *testing.T) {
	for _, tc := range []struct{ ref, want string }{
		{"http=proxy", "HTTP: proxied to http://localhost:"},
		{"mimic=python-stream", "HTTP: proxied to http://127.0.0.1:"},
		{"mimic=dotnet", "HTTP: RpcHttp over the stream"},
	} {
		r := fbench(t, time.Minute, "probe", "--ref", tc.ref)
		if r.code != 0 || !strings.Contains(r.stdout, tc.want) {
			t.Errorf("--ref %s: exit %d, want %q in:\n%s%s", tc.ref, r.code, tc.want, r.stdout, r.stderr)
		}
	}
}

// A proxied run's reports say the mode and count the statuses; a status outside --http-ok fails
// with its reason, and an SLO on the 5xx count sees it.
func TestProxyRunReports(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := fbench(t, time.Minute, runArgs(dir, "-rps", "200", "-n", "100", "--ref", "http=proxy", "--function", "status",
		"--query", "code=503", "--slo", "http_5xx==0")...)
	expectExit(t, r, exitFailed)
	s := loadSummary(t, dir)
	if s.HTTPMode != "proxy" || s.HTTPStatus["status"]["503"] != 100 || s.Counts.HTTP5xx != 100 || s.FailureReasons["HTTP 503"] != 100 || s.Counts.Failed != 100 {
		t.Fatalf("summary: mode %q, statuses %v, failures %v, counts %+v", s.HTTPMode, s.HTTPStatus, s.FailureReasons, s.Counts)
	}
	// The same reason in the failures table, with its function and kind.
	if f := s.Failures; f == nil || len(f.Groups) != 1 || f.Groups[0].Pattern != "HTTP 503" || f.Groups[0].First.Message != "HTTP 503" ||
		f.Groups[0].Kind != report.FailureHTTPStatus || f.Groups[0].Function != "status" || f.Groups[0].Count != 100 {
		t.Errorf("failures table %+v", s.Failures)
	}
	if s.Latency[report.MetricHTTPTotal].Count != 100 || s.Latency[report.MetricHTTPTTFB].Count != 100 {
		t.Errorf("http clocks: %+v %+v", s.Latency[report.MetricHTTPTTFB], s.Latency[report.MetricHTTPTotal])
	}
	html, err := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"proxied to the worker&#39;s HttpUri", "status: 503 ×100", "100 × HTTP 503"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(dir, report.IntervalsCSV))
	if !strings.Contains(string(csv), "http_total_p99_us") {
		t.Error("intervals.csv lacks the http_total columns")
	}
}
