package capacity

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/loadgen"
	"github.com/fbench/fbench/loadgen/runner"
)

// A run flag a step sets itself is refused by name; the search's own are not.
func TestCheckStepFlags(t *testing.T) {
	for _, tc := range []struct {
		given []string
		want  string // "": accepted
	}{
		{given: nil},
		{given: []string{"start", "step", "slo", "out"}},
		{given: []string{"out", "rps"}, want: "--rps cannot be used with fbench capacity: every step sets its own rate and duration (see --start, --step, --step-warmup)"},
		{given: []string{"start-at"}, want: "--start-at cannot be used with fbench capacity"},
	} {
		err := CheckStepFlags(func(flag string) bool { return strings.Contains(","+strings.Join(tc.given, ",")+",", ","+flag+",") })
		if (err == nil) != (tc.want == "") || (err != nil && !strings.HasPrefix(err.Error(), tc.want)) {
			t.Errorf("given %v: err %v, want %q", tc.given, err, tc.want)
		}
	}
}

// OutDir defaults to a timestamped directory and refuses one that holds something.
func TestOutDir(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got, err := OutDir("", now); err != nil || got != filepath.Join("fbench-results", "capacity-20260102T030405Z") {
		t.Fatalf("default: %q, %v", got, err)
	}
	dir := t.TempDir()
	if got, err := OutDir(dir, now); err != nil || got != dir {
		t.Fatalf("empty directory: %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OutDir(dir, now); err == nil || !strings.Contains(err.Error(), "exists and is not empty") {
		t.Fatalf("full directory: %v", err)
	}
}

// Prepare plans the first step as the check and describes the search from that plan.
func TestPrepare(t *testing.T) {
	s, err := NewSetup(Options{Start: 150, MaxRate: 1000, Step: 2 * time.Second, StepWarmup: time.Second, Precision: "5%", MaxErrorRate: "0.1%"})
	if err != nil {
		t.Fatal(err)
	}
	var asked StepSpec
	plan := func(sp StepSpec) (*runner.Plan, error) {
		asked = sp
		cfg := loadgen.Config{Seed: 42, Targets: []loadgen.Target{{Function: "echo"}, {Function: "work"}}}
		return &runner.Plan{Config: cfg, Record: map[string]any{"rps": sp.Rate}}, nil
	}
	if err := s.Prepare(plan, "./worker"); err != nil {
		t.Fatal(err)
	}
	if asked.Rate != 150 || asked.Duration != 2*time.Second || asked.Warmup != time.Second || asked.Dir == "" {
		t.Fatalf("first step planned as %+v", asked)
	}
	if _, err := os.Stat(asked.Dir); !os.IsNotExist(err) {
		t.Fatalf("the check's directory %s exists: %v", asked.Dir, err)
	}
	if s.Target != "./worker (echo, work)" || s.Config["seed"] != "42" || s.Config["step_config"].(map[string]any)["rps"] != 150.0 {
		t.Fatalf("target %q, seed %v, step config %v", s.Target, s.Config["seed"], s.Config["step_config"])
	}
	refused := errors.New("invalid --mix")
	if err := s.Prepare(func(StepSpec) (*runner.Plan, error) { return nil, refused }, ""); err != refused {
		t.Fatalf("a refused plan: %v", err)
	}
}
