package slo

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fbench/fbench/report"
)

func TestParseColdstartSLO(t *testing.T) {
	for _, tc := range []struct {
		expr   string
		metric string
		kind   Kind
		value  float64
		pos    int // > 0: a syntax error at this position
	}{
		{"coldstart.total.p99<2s", "coldstart.total.p99", Latency, 2e6, 0},
		{"specialize.p50 < 200ms", "coldstart.specialize.p50", Latency, 200e3, 0},
		{"Coldstart.Total_After_Specialize.max<=1.5s", "coldstart.total_after_specialize.max", Latency, 1.5e6, 0},
		{"coldstart.failed==0", "coldstart.failed", Count, 0, 0},
		{"coldstart.succeeded>=19", "coldstart.succeeded", Count, 19, 0},
		{"coldstart.failure_rate<5%", "coldstart.failure_rate", Ratio, 0.05, 0},
		{"coldstart.totl.p99<2s", "", 0, 0, 1},
		{"coldstart.total.p98<2s", "", 0, 0, 17},
		{"coldstart.total.p99<2", "", 0, 0, 22},
		{"specialize.p50<<2ms", "", 0, 0, 15},
		{"coldstart.failed==0.5", "", 0, 0, 19},
		{"", "", 0, 0, 1},
	} {
		o, err := ParseColdstart(tc.expr)
		if tc.pos > 0 {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos != tc.pos || se.Expr != strings.TrimSpace(tc.expr) {
				t.Errorf("%q: error %v, want a syntax error at %d", tc.expr, err, tc.pos)
			}
			continue
		}
		if err != nil || o.Metric != tc.metric || o.Kind != tc.kind || o.Value != tc.value || o.Expr != tc.expr {
			t.Errorf("%q: %+v, %v; want metric %s kind %d value %v", tc.expr, o, err, tc.metric, tc.kind, tc.value)
		}
	}
	if !IsColdstart("specialize.p50") || IsColdstart("rtt.p99") || IsColdstart("error_rate") {
		t.Error("IsColdstartMetric misclassifies")
	}
}

// loadColdstart reads testdata/coldstart.json: a direct cold-start run of 5 starts, 4 succeeded
// with totals 100, 110, 120 and 400 ms, one failed in load (report's synthColdstart, as written).
func loadColdstart(t *testing.T) *report.ColdstartReport {
	t.Helper()
	r, err := report.LoadColdstart(filepath.Join("testdata", report.ColdstartFile))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEvaluateColdstart(t *testing.T) {
	r := loadColdstart(t)
	slos, err := ParseColdstartAll([]string{"coldstart.total.p50<200ms", "coldstart.total.max<200ms", "coldstart.failed==0",
		"coldstart.failure_rate<=20%", "specialize.p50<1s"})
	if err != nil {
		t.Fatal(err)
	}
	EvaluateColdstart(r, slos)
	var got []bool
	for _, s := range r.SLOs {
		got = append(got, s.Pass)
	}
	if want := []bool{true, false, false, true, false}; !equalBools(got, want) {
		t.Errorf("SLO passes %v, want %v: %+v", got, want, r.SLOs)
	}
	if r.SLOs[4].Observed != "no data (no start measured specialize)" {
		t.Errorf("specialize on a direct run: %q", r.SLOs[4].Observed)
	}

	// The results report's text and JSON golden files hold.
	slos, _ = ParseColdstartAll([]string{"coldstart.total.p99<2s", "coldstart.failed==0"})
	EvaluateColdstart(r, slos)
	want := []string{
		`{"expression":"coldstart.total.p99\u003c2s","metric":"coldstart.total.p99","op":"\u003c","threshold":2000000,"unit":"us","value":400127,"observed":"400.127ms","pass":true}`,
		`{"expression":"coldstart.failed==0","metric":"coldstart.failed","op":"==","threshold":0,"unit":"count","value":1,"observed":"1","pass":false}`,
	}
	for i, res := range r.SLOs {
		if b, _ := json.Marshal(res); string(b) != want[i] {
			t.Errorf("result %d:\n got: %s\nwant: %s", i, b, want[i])
		}
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
