package slo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/report"
)

// PlanFor checks again what a run recorded, unless the objectives or their window are given.
func TestPlanFor(t *testing.T) {
	dir := t.TempDir()
	meta := map[string]any{"schema": report.RunSchema, "interval_ns": int64(time.Second),
		"config": map[string]any{"slo": []string{"rtt.p99<50ms", "error_rate<1%"}, "slo_window": "5s"}}
	b, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, report.RunFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		exprs      []string
		replace    bool
		window     time.Duration
		rewindow   bool
		wantExprs  []string
		wantWindow time.Duration
		wantErr    string
	}{
		{name: "recorded", wantExprs: []string{"rtt.p99<50ms", "error_rate<1%"}, wantWindow: 5 * time.Second},
		{name: "replaced drops the window", exprs: []string{"rtt.p50<1ms"}, replace: true, wantExprs: []string{"rtt.p50<1ms"}},
		{name: "replaced by none", replace: true},
		{name: "rewindowed", window: 2 * time.Second, rewindow: true, wantExprs: []string{"rtt.p99<50ms", "error_rate<1%"}, wantWindow: 2 * time.Second},
		{name: "window off", rewindow: true, wantExprs: []string{"rtt.p99<50ms", "error_rate<1%"}},
		{name: "both", exprs: []string{"rtt.p50<1ms"}, replace: true, window: 3 * time.Second, rewindow: true, wantExprs: []string{"rtt.p50<1ms"}, wantWindow: 3 * time.Second},
		{name: "window off the interval", window: 1500 * time.Millisecond, rewindow: true, wantErr: "must be a multiple of the interval (1s)"},
		{name: "window without objectives", replace: true, window: time.Second, rewindow: true, wantErr: "--slo-window needs at least one --slo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PlanFor(dir, tc.exprs, tc.replace, tc.window, tc.rewindow)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var exprs []string
			for _, o := range p.SLOs {
				exprs = append(exprs, o.Expr)
			}
			if !slices.Equal(exprs, tc.wantExprs) || p.Window != tc.wantWindow {
				t.Fatalf("objectives %q window %s, want %q %s", exprs, p.Window, tc.wantExprs, tc.wantWindow)
			}
		})
	}
}

// Verdict names each failed objective, windowed ones with their window.
func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		name string
		slos []report.SLOResult
		want string // "": nil
	}{
		{name: "none"},
		{name: "all pass", slos: []report.SLOResult{{Expression: "rtt.p99<50ms", Pass: true}}},
		{name: "one fails", slos: []report.SLOResult{{Expression: "rtt.p99<50ms", Pass: true}, {Expression: "error_rate<1%", Observed: "2%"}},
			want: "1 of 2 SLOs failed: error_rate<1% (observed 2%)"},
		{name: "windowed", slos: []report.SLOResult{{Expression: "rtt.p99<50ms", Observed: "60ms"}, {Expression: "rtt.p99<50ms", WindowS: 5, Observed: "worst 80ms"}},
			want: "2 of 2 SLOs failed: rtt.p99<50ms (observed 60ms); rtt.p99<50ms in every 5 s window (observed worst 80ms)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := Verdict(&report.Summary{SLOs: tc.slos}); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
