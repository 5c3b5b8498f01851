package runner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/fbench/fbench/report"
)

// Repeat makes s.Repeat runs of the settings into OUT/run-1 … OUT/run-N, each with a fresh worker
// (and a fresh seed unless the settings' seed was given), each judged by its plan's Gate. after,
// when set, is called after each run with its plan and error. A run that could not start (a plain
// error) or an interruption stops the repetitions and is returned; else the error is nil when every
// run passed, or names how many failed and the worst one (crashed over invalid over failed), of
// that one's kind. dir is the set's directory; it is "" when a run's plan was refused (nothing to
// summarise).
func Repeat(ctx context.Context, s Settings, out Output, after func(i int, p *Plan, err error)) (dir string, err error) {
	n := s.Repeat
	if n < 1 || n > 1000 {
		return "", fmt.Errorf("invalid --repeat %d: must be between 1 and 1000", n)
	}
	dir = s.Out
	if dir == "" {
		dir = DefaultOut("")
	}
	if err := CheckOutDir(dir); err != nil {
		return "", err
	}
	worst, worstRun, failed := 0, 0, 0
	var worstErr error
	for i := 1; i <= n; i++ {
		s.Out = filepath.Join(dir, fmt.Sprintf("run-%d", i))
		if !s.SeedSet {
			s.Seed = 0 // NewPlan picks a fresh one
		}
		p, err := NewPlan(s)
		if err != nil {
			return "", err
		}
		s.Seed = p.Config.Seed
		p.Record["repeat"] = map[string]any{"run": i, "of": n}
		if out.Progress != nil {
			fmt.Fprintf(out.Progress, "fbench: run %d of %d → %s\n", i, n, p.Out)
		}
		_, err = Run(ctx, p, out)
		if after != nil {
			after(i, p, err)
		}
		if err != nil {
			failed++
		}
		rank := severity(err)
		if rank < 0 {
			return dir, err
		}
		if rank > worst {
			worst, worstRun, worstErr = rank, i, err
		}
	}
	if worst == 0 {
		return dir, nil
	}
	kind := []error{nil, ErrFailed, ErrInvalid, ErrCrashed}[worst]
	return dir, withKind(kind, fmt.Errorf("%d of %d runs failed; the worst, run-%d: %v", failed, n, worstRun, worstErr))
}

// severity ranks a run's error for a repeated set: 0 passed, 1 failed its gate, 2 invalid,
// 3 crashed; -1 stops the set (it could not run, or was interrupted).
func severity(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrCrashed):
		return 3
	case errors.Is(err, ErrInterrupted):
		return -1
	case errors.Is(err, ErrInvalid):
		return 2
	case errors.Is(err, ErrFailed):
		return 1
	}
	return -1
}

// Headline is one run's headline figures, read back from its summary.json ("" when it has none):
// " · achieved R rps · rtt p50 … ms, p99 … ms", and " · SLO failed" when one did.
func Headline(dir string) string {
	s, err := report.LoadSummary(filepath.Join(dir, report.SummaryFile))
	if err != nil {
		return ""
	}
	rtt := s.Latency[report.MetricRTT]
	line := fmt.Sprintf(" · achieved %g rps · rtt p50 %.3f ms, p99 %.3f ms", s.AchievedRPS, float64(rtt.P50)/1000, float64(rtt.P99)/1000)
	for _, r := range s.SLOs {
		if !r.Pass {
			line += " · SLO failed"
			break
		}
	}
	return line
}
