package coldstart

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/refworker"
	"github.com/fbench/fbench/loadgen/refworker/workertest"
	"github.com/fbench/fbench/report"
)

// The test binary doubles as the reference worker (see workertest).
func TestMain(m *testing.M) { workertest.Main(m, workertest.Worker(refworker.Main)) }

func config(t testing.TB, refArgs string) Config {
	t.Helper()
	exe := workertest.Executable(t)
	workertest.Setenv(t, refArgs)
	return Config{Host: host.Options{Launch: host.Launch{Worker: exe, Language: "fbench-reference"}, Indexing: host.IndexingWorker},
		Timeout: 10 * time.Second}
}

func phaseNames(s *Start) []string {
	var out []string
	for _, p := range s.Phases {
		out = append(out, p.Name)
	}
	return out
}

func TestMeasure(t *testing.T) {
	srv, err := host.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range []struct {
		name        string
		ref         string
		placeholder bool
		want        []string
		failedIn    string
	}{
		{"direct", "", false, DirectPhases, ""},
		{"placeholder", "--mimic=java", true, PlaceholderPhases, ""},
		{"placeholder without warm-up", "--mimic=node", true, slices.DeleteFunc(slices.Clone(PlaceholderPhases), func(p string) bool { return p == PhaseWarmup }), ""},
		{"load fails", "--fault=fail-load=echo", false, nil, PhaseLoad},
		{"no StartStream", "--fault=exit-at-start", false, nil, PhaseStartStream},
		{"reload rejected", "--fault=fail-reload", true, nil, PhaseSpecialize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(t, tc.ref)
			cfg.Function = "echo"
			cfg.Placeholder, cfg.WarmupRequest, cfg.StandbyDir = tc.placeholder, true, t.TempDir()
			s, err := Measure(context.Background(), srv, cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			if tc.failedIn != "" {
				if !s.Failed || s.FailedPhase != tc.failedIn || s.Reason == "" {
					t.Errorf("failed %v in %q: %s", s.Failed, s.FailedPhase, s.Reason)
				}
				return
			}
			if s.Failed || !slices.Equal(phaseNames(s), tc.want) {
				t.Fatalf("phases %v (failed %v: %s), want %v", phaseNames(s), s.Failed, s.Reason, tc.want)
			}
			if s.ExitCode == nil || *s.ExitCode != 0 || s.PeakRSS <= 0 || s.CPUSeconds <= 0 || len(s.Invocations) != 1 {
				t.Errorf("exit %v rss %d cpu %v invocations %v", s.ExitCode, s.PeakRSS, s.CPUSeconds, s.Invocations)
			}
		})
	}
}

func TestPhasesKnownToReport(t *testing.T) {
	for _, p := range append(slices.Clone(DirectPhases), append(PlaceholderPhases, PhaseNextInvocations)...) {
		if !slices.Contains(report.ColdPhaseNames, p) {
			t.Errorf("phase %s is not in report.ColdPhaseNames: no SLO can name it", p)
		}
	}
}

// BenchmarkColdStart measures direct starts of the reference worker one after the other:
// ms/start (100 starts take 100 × that) and fbench's own share of a phase (µs; p50, p99 and max
// over every phase of every start: a worker's message → fbench's answer handed to gRPC).
func BenchmarkColdStart(b *testing.B) {
	for _, mode := range []string{"direct", "placeholder"} {
		b.Run(mode, func(b *testing.B) {
			srv, err := host.NewServer()
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			cfg := config(b, "")
			cfg.Placeholder, cfg.StandbyDir = mode == "placeholder", b.TempDir()
			var shares []time.Duration
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				s, err := Measure(context.Background(), srv, cfg, i+1)
				if err != nil || s.Failed {
					b.Fatalf("start %d: %v %s", i+1, err, s.Reason)
				}
				for _, p := range s.Phases {
					if p.Share != nil {
						shares = append(shares, *p.Share)
					}
				}
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/start")
			slices.Sort(shares)
			if n := len(shares); n > 0 {
				b.ReportMetric(float64(shares[n/2].Microseconds()), "share-p50-µs")
				b.ReportMetric(float64(shares[(n*99)/100].Microseconds()), "share-p99-µs")
				b.ReportMetric(float64(shares[n-1].Microseconds()), "share-max-µs")
			}
		})
	}
}
