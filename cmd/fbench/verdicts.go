package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/report"
)

// verdictFlags set the soak verdicts' thresholds (worker memory growth, latency drift, throughput
// held, error-rate drift, harness health) and whether a failed verdict fails the run.
type verdictFlags struct {
	memGrowth  string
	p99Drift   string
	minThru    string
	errDrift   string
	harnessCPU float64
	gate       bool
}

func (v *verdictFlags) register(fs *pflag.FlagSet) {
	d := report.DefaultVerdictThresholds
	fs.StringVar(&v.memGrowth, "max-memory-growth", "64MiB", "worker RSS growth per hour (Theil–Sen trend) above which worker_memory fails (units B, KiB, MiB, GiB)")
	fs.StringVar(&v.p99Drift, "max-p99-drift", "50%", "rtt p99 rise from the first to the last quarter of the run above which latency_drift fails")
	fs.StringVar(&v.minThru, "min-throughput", "98%", "achieved ÷ offered below which throughput_held fails")
	fs.StringVar(&v.errDrift, "max-error-drift", "1%", "error-rate rise (percentage points) from the first to the last quarter above which error_rate_drift fails")
	fs.Float64Var(&v.harnessCPU, "harness-cpu-warn", d.HarnessCPU, "fbench CPU (percent of one core) above which harness_health warns")
	fs.BoolVar(&v.gate, "gate-verdicts", false, "exit 2 when a verdict fails (recommended for soaks; verdicts are always reported)")
}

func (v *verdictFlags) thresholds() (report.VerdictThresholds, error) {
	t := report.DefaultVerdictThresholds
	var err error
	if t.MemoryGrowthPerHour, err = parseBytes(v.memGrowth); err != nil || t.MemoryGrowthPerHour <= 0 {
		return t, fmt.Errorf("invalid --max-memory-growth %q: want a size such as 64MiB", v.memGrowth)
	}
	if t.P99Drift, err = parseFraction(v.p99Drift); err != nil || t.P99Drift <= 0 {
		return t, fmt.Errorf("invalid --max-p99-drift %q: want a positive fraction or percentage such as 50%%", v.p99Drift)
	}
	if t.MinThroughput, err = parseFraction(v.minThru); err != nil || t.MinThroughput <= 0 || t.MinThroughput > 1 {
		return t, fmt.Errorf("invalid --min-throughput %q: want a fraction or percentage in (0, 100%%]", v.minThru)
	}
	if t.ErrorRateDrift, err = parseFraction(v.errDrift); err != nil || t.ErrorRateDrift <= 0 {
		return t, fmt.Errorf("invalid --max-error-drift %q: want a positive fraction or percentage such as 1%%", v.errDrift)
	}
	if v.harnessCPU <= 0 {
		return t, fmt.Errorf("invalid --harness-cpu-warn %v: must be positive", v.harnessCPU)
	}
	t.HarnessCPU = v.harnessCPU
	return t, nil
}

// verdictOutcome is exit 2 when --gate-verdicts is set and a verdict failed.
func (v *verdictFlags) outcome(s *report.Summary) error {
	if !v.gate {
		return nil
	}
	var failed []string
	for _, vd := range s.Verdicts {
		if vd.Status == report.VerdictFail {
			failed = append(failed, vd.Name+": "+vd.Detail)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return withCode(exitFailed, fmt.Errorf("%d verdicts failed: %s", len(failed), strings.Join(failed, "; ")))
}

// parseFraction reads "50%" or "0.5".
func parseFraction(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		return f / 100, err
	}
	return strconv.ParseFloat(s, 64)
}

// parseBytes reads a size with an optional binary unit: 512, 64KiB, 64MiB, 1GiB (KB/MB/GB and
// K/M/G are read as binary units too).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if p, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(p), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("not a size")
	}
	return int64(f * float64(mult)), nil
}
