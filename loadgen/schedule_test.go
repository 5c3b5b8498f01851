package loadgen

import (
	"math"
	"strings"
	"testing"
	"time"
)

func mustSchedule(t testing.TB, stages []Stage, arrival Arrival, seed uint64) *Schedule {
	t.Helper()
	s, err := NewSchedule(stages, arrival, seed)
	if err != nil {
		t.Fatalf("NewSchedule: %v", err)
	}
	return s
}

// drain returns every arrival of a bounded schedule, checking order and range.
func drain(t testing.TB, s *Schedule) []time.Duration {
	t.Helper()
	var out []time.Duration
	for {
		at, ok := s.Next()
		if !ok {
			break
		}
		if at < 0 || at >= s.Duration() {
			t.Fatalf("arrival %d at %v outside [0, %v)", len(out), at, s.Duration())
		}
		if n := len(out); n > 0 && at < out[n-1] {
			t.Fatalf("arrival %d at %v before previous %v", n, at, out[n-1])
		}
		out = append(out, at)
	}
	if _, ok := s.Next(); ok {
		t.Fatal("Next returned ok after the end")
	}
	return out
}

func count(ats []time.Duration, from, to time.Duration) int {
	n := 0
	for _, at := range ats {
		if at >= from && at < to {
			n++
		}
	}
	return n
}

func TestScheduleConstantCounts(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name   string
		stages []Stage
		total  int
		tol    int // allowed |count - Expected| per stage and per bin
		bin    time.Duration
	}{
		{"constant 1000 rps", []Stage{{Duration: sec, From: 1000, To: 1000}}, 1000, 0, 100 * time.Millisecond},
		{"ramp 0 to 100 over 10s", []Stage{{Duration: 10 * sec, From: 0, To: 100}}, 500, 1, sec},
		{"ramp 100 to 0 over 10s", []Stage{{Duration: 10 * sec, From: 100, To: 0}}, 500, 1, sec},
		{"ramp 10 to 1000 over 3s", []Stage{{Duration: 3 * sec, From: 10, To: 1000}}, 1515, 1, 500 * time.Millisecond},
		{"steps", []Stage{
			{Name: "a", Duration: 2 * sec, From: 100, To: 100},
			{Name: "b", Duration: 2 * sec, From: 200, To: 200},
			{Name: "c", Duration: 2 * sec, From: 50, To: 50},
		}, 700, 0, sec},
		{"pause in the middle", []Stage{
			{Duration: sec, From: 100, To: 100},
			{Name: "pause", Duration: 5 * sec, From: 0, To: 0},
			{Duration: sec, From: 100, To: 100},
		}, 200, 0, sec},
		{"leading pause", []Stage{
			{Name: "pause", Duration: 3 * sec, From: 0, To: 0},
			{Duration: sec, From: 10, To: 10},
		}, 10, 0, sec},
		{"fractional stage masses", []Stage{
			{Duration: 1500 * time.Millisecond, From: 3, To: 3},
			{Duration: 2500 * time.Millisecond, From: 7, To: 1},
			{Duration: 333 * time.Millisecond, From: 30, To: 30},
		}, 25, 1, sec},
		{"all zero", []Stage{{Duration: sec}}, 0, 0, sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSchedule(t, tt.stages, Constant, 0)
			ats := drain(t, s)
			if len(ats) != tt.total {
				t.Errorf("got %d arrivals, want %d", len(ats), tt.total)
			}
			if e := s.Expected(0, s.Duration()); math.Abs(e-float64(len(ats))) > 1 {
				t.Errorf("Expected(all) = %v, got %d arrivals", e, len(ats))
			}
			var start time.Duration
			for i, st := range tt.stages {
				end := start + st.Duration
				// Arrivals are at Λ = 0, 1, 2, …: a stage gets the integers
				// in [Λ(start), Λ(end)).
				got := count(ats, start, end)
				lo, hi := s.Expected(0, start), s.Expected(0, end)
				if want := int(math.Ceil(hi-1e-9) - math.Ceil(lo-1e-9)); got != want {
					t.Errorf("stage %d: %d arrivals, want %d (Λ from %v to %v)", i, got, want, lo, hi)
				}
				if st.From == 0 && st.To == 0 && got != 0 {
					t.Errorf("zero-rate stage %d has %d arrivals", i, got)
				}
				start = end
			}
			// Density: arrivals per bin follow the integral of the rate.
			for from := time.Duration(0); from < s.Duration(); from += tt.bin {
				got, want := count(ats, from, from+tt.bin), s.Expected(from, from+tt.bin)
				if math.Abs(float64(got)-want) > float64(tt.tol)+1 {
					t.Errorf("bin %v: %d arrivals, Expected %.2f", from, got, want)
				}
			}
		})
	}
}

func TestScheduleConstantExactTimes(t *testing.T) {
	s := mustSchedule(t, []Stage{{Duration: time.Second, From: 1000, To: 1000}}, Constant, 0)
	for k, at := range drain(t, s) {
		if want := time.Duration(k) * time.Millisecond; at != want {
			t.Fatalf("arrival %d at %v, want %v", k, at, want)
		}
	}

	// Ramp 0→100 over 10s: Λ(t) = 5t², so arrival k is at sqrt(k/5) s.
	s = mustSchedule(t, []Stage{{Duration: 10 * time.Second, From: 0, To: 100}}, Constant, 0)
	for k, at := range drain(t, s) {
		want := time.Duration(math.Round(math.Sqrt(float64(k)/5) * 1e9))
		if d := at - want; d < -1 || d > 1 {
			t.Fatalf("ramp arrival %d at %v, want %v", k, at, want)
		}
	}

	// After a pause, arrivals resume exactly at the end of the pause.
	s = mustSchedule(t, []Stage{
		{Duration: time.Second, From: 4, To: 4},
		{Duration: time.Second},
		{Duration: time.Second, From: 4, To: 4},
	}, Constant, 0)
	got := drain(t, s)
	want := []time.Duration{0, 250, 500, 750, 2000, 2250, 2500, 2750}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v ms", got, want)
	}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("got %v, want %v ms", got, want)
		}
	}
}

// No drift: the n-th arrival is computed from n, not by adding rounded gaps.
func TestScheduleNoDrift(t *testing.T) {
	s, err := NewConstant(7, 0)
	if err != nil {
		t.Fatal(err)
	}
	for n := int64(0); n < 1_000_000; n++ {
		at, ok := s.Next()
		if !ok {
			t.Fatal("unbounded schedule ended")
		}
		want := time.Duration((n*1e9*2 + 7) / 14) // round(n·1e9/7)
		if at != want {
			t.Fatalf("arrival %d at %v, want %v", n, at, want)
		}
	}
}

func TestScheduleUnbounded(t *testing.T) {
	s, err := NewConstant(1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Duration() != Forever || s.Bounded() {
		t.Fatalf("Duration() = %v, Bounded() = %v; want Forever, false", s.Duration(), s.Bounded())
	}
	for k := 0; k < 100_000; k++ {
		at, ok := s.Next()
		if !ok || at != time.Duration(k)*time.Millisecond {
			t.Fatalf("arrival %d = %v, %v", k, at, ok)
		}
	}
	if r := s.RateAt(1000 * time.Hour); r != 1000 {
		t.Errorf("RateAt = %v", r)
	}
	if e := s.Expected(0, time.Hour); e != 3.6e6 {
		t.Errorf("Expected(0, 1h) = %v", e)
	}

	// Bounded stages followed by an open-ended one.
	s = mustSchedule(t, []Stage{
		{Name: "warmup", Duration: time.Second, From: 10, To: 10, Warmup: true},
		{Name: "run", From: 100, To: 100},
	}, Poisson, 3)
	if s.Bounded() || s.WarmupEnd() != time.Second {
		t.Fatalf("Bounded %v WarmupEnd %v", s.Bounded(), s.WarmupEnd())
	}
	for range 10000 {
		if _, ok := s.Next(); !ok {
			t.Fatal("unbounded schedule ended")
		}
	}

	// An open-ended zero rate has no arrivals and ends.
	s, err = NewConstant(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Next(); ok {
		t.Fatal("zero-rate open-ended schedule produced an arrival")
	}
}

func TestSchedulePoisson(t *testing.T) {
	stages := []Stage{{Duration: 100 * time.Second, From: 1000, To: 1000}}
	a := drain(t, mustSchedule(t, stages, Poisson, 42))
	b := drain(t, mustSchedule(t, stages, Poisson, 42))
	c := drain(t, mustSchedule(t, stages, Poisson, 43))
	if len(a) != len(b) {
		t.Fatalf("same seed: %d vs %d arrivals", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed differs at %d: %v vs %v", i, a[i], b[i])
		}
	}
	same := 0
	for i := 0; i < min(len(a), len(c), 100); i++ {
		if a[i] == c[i] {
			same++
		}
	}
	if same > 1 {
		t.Errorf("seeds 42 and 43 share %d of the first 100 arrivals", same)
	}

	// Reset replays the same arrivals.
	s := mustSchedule(t, stages, Poisson, 42)
	for range 10 {
		s.Next()
	}
	s.Reset()
	if r := drain(t, s); len(r) != len(a) || r[0] != a[0] || r[len(r)-1] != a[len(a)-1] {
		t.Error("Reset did not replay the schedule")
	}

	// Count: Poisson(100000), σ ≈ 316.
	for seed := uint64(1); seed <= 5; seed++ {
		ats := drain(t, mustSchedule(t, stages, Poisson, seed))
		if d := math.Abs(float64(len(ats)) - 1e5); d > 4*math.Sqrt(1e5) {
			t.Errorf("seed %d: %d arrivals, want 100000 ± %.0f", seed, len(ats), 4*math.Sqrt(1e5))
		}
	}

	// Gaps are exponential: coefficient of variation ≈ 1.
	var sum, sum2 float64
	for i := 1; i < len(a); i++ {
		g := float64(a[i] - a[i-1])
		sum += g
		sum2 += g * g
	}
	n := float64(len(a) - 1)
	mean := sum / n
	cv := math.Sqrt(sum2/n-mean*mean) / mean
	if math.Abs(cv-1) > 0.02 {
		t.Errorf("gap CV = %.4f, want ≈ 1", cv)
	}
	if math.Abs(mean-1e6) > 1e6*4/math.Sqrt(n) {
		t.Errorf("mean gap = %.0f ns, want ≈ 1ms", mean)
	}
}

// Poisson on a piecewise-linear rate: each bin's count is within 4σ of
// Expected (σ² = Expected for a Poisson count).
func TestSchedulePoissonRamp(t *testing.T) {
	s := mustSchedule(t, []Stage{
		{Duration: 20 * time.Second, From: 0, To: 2000},
		{Duration: 5 * time.Second},
		{Duration: 10 * time.Second, From: 2000, To: 500},
	}, Poisson, 7)
	ats := drain(t, s)
	if got := count(ats, 20*time.Second, 25*time.Second); got != 0 {
		t.Errorf("%d arrivals in the pause", got)
	}
	bin := time.Second
	for from := time.Duration(0); from < s.Duration(); from += bin {
		got, want := float64(count(ats, from, from+bin)), s.Expected(from, from+bin)
		if math.Abs(got-want) > 4*math.Sqrt(want)+1 {
			t.Errorf("bin %v: %v arrivals, Expected %.1f", from, got, want)
		}
	}
	if e := s.Expected(0, s.Duration()); math.Abs(float64(len(ats))-e) > 4*math.Sqrt(e) {
		t.Errorf("%d arrivals, Expected %.0f", len(ats), e)
	}
}

func TestScheduleRateAtExpected(t *testing.T) {
	s := mustSchedule(t, []Stage{
		{Duration: 10 * time.Second, From: 0, To: 100},
		{Duration: 10 * time.Second, From: 100, To: 100},
	}, Constant, 0)
	for _, tt := range []struct {
		t    time.Duration
		want float64
	}{{-1, 0}, {0, 0}, {5 * time.Second, 50}, {10 * time.Second, 100}, {15 * time.Second, 100}, {20 * time.Second, 0}} {
		if got := s.RateAt(tt.t); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("RateAt(%v) = %v, want %v", tt.t, got, tt.want)
		}
	}
	for _, tt := range []struct {
		from, to time.Duration
		want     float64
	}{
		{0, 10 * time.Second, 500},
		{0, 5 * time.Second, 125},
		{5 * time.Second, 15 * time.Second, 875},
		{-time.Hour, time.Hour, 1500},
		{15 * time.Second, 5 * time.Second, 0},
	} {
		if got := s.Expected(tt.from, tt.to); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Expected(%v, %v) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestScheduleStagesAndPhases(t *testing.T) {
	stages := []Stage{
		{Duration: 5 * time.Second, From: 10, To: 10, Warmup: true},
		{Name: "warmup", Duration: 5 * time.Second, From: 10, To: 100, Warmup: true},
		{Name: "ramp", Duration: 10 * time.Second, From: 100, To: 200},
		{Name: "ramp", Duration: 10 * time.Second, From: 200, To: 300},
		{Name: "steady", Duration: 30 * time.Second, From: 300, To: 300},
		{Name: "ramp", Duration: 10 * time.Second, From: 300, To: 0},
	}
	s := mustSchedule(t, stages, Constant, 0)
	if s.Duration() != 70*time.Second || !s.Bounded() {
		t.Errorf("Duration() = %v", s.Duration())
	}
	if s.WarmupEnd() != 10*time.Second {
		t.Errorf("WarmupEnd() = %v, want 10s", s.WarmupEnd())
	}
	for _, tt := range []struct {
		t    time.Duration
		idx  int
		name string
	}{
		{-1, -1, ""}, {0, 0, "warmup"}, {5*time.Second - 1, 0, "warmup"}, {5 * time.Second, 1, "warmup"},
		{20 * time.Second, 3, "ramp"}, {69 * time.Second, 5, "ramp"}, {70 * time.Second, -1, ""},
	} {
		st, i := s.StageAt(tt.t)
		if i != tt.idx || st.Name != tt.name {
			t.Errorf("StageAt(%v) = %q, %d; want %q, %d", tt.t, st.Name, i, tt.name, tt.idx)
		}
	}
	want := []PhaseSpan{
		{"warmup", 0, 10 * time.Second, true},
		{"ramp", 10 * time.Second, 30 * time.Second, false},
		{"steady", 30 * time.Second, 60 * time.Second, false},
		{"ramp", 60 * time.Second, 70 * time.Second, false},
	}
	got := s.Phases()
	if len(got) != len(want) {
		t.Fatalf("Phases() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Phases()[%d] = %v, want %v", i, got[i], want[i])
		}
	}

	s = mustSchedule(t, []Stage{{Duration: time.Second, From: 1, To: 1}}, Constant, 0)
	if s.WarmupEnd() != 0 {
		t.Errorf("WarmupEnd() without warm-up = %v", s.WarmupEnd())
	}
	if p := s.Phases(); len(p) != 1 || p[0].Name != "measure" {
		t.Errorf("default phase = %v", p)
	}
}

func TestScheduleInvalid(t *testing.T) {
	ok := Stage{Name: "ok", Duration: time.Second, From: 1, To: 1}
	tests := []struct {
		name    string
		stages  []Stage
		arrival Arrival
		want    string
	}{
		{"no stages", nil, Constant, "schedule: no stages"},
		{"unknown arrival", []Stage{ok}, "bursty", `schedule: unknown arrival "bursty" (want constant or poisson)`},
		{"negative from", []Stage{{Name: "r", Duration: time.Second, From: -5, To: 1}}, Constant, `schedule: stages[0] "r": negative from rate -5`},
		{"negative to", []Stage{ok, {Name: "r", Duration: time.Second, From: 1, To: -1}}, Constant, `schedule: stages[1] "r": negative to rate -1`},
		{"NaN rate", []Stage{{Duration: time.Second, From: math.NaN()}}, Constant, `schedule: stages[0] "measure": from rate NaN is not a finite number`},
		{"Inf rate", []Stage{{Duration: time.Second, To: math.Inf(1)}}, Constant, `schedule: stages[0] "measure": to rate +Inf is not a finite number`},
		{"huge rate", []Stage{{Duration: time.Second, From: 2e9, To: 2e9}}, Constant, `schedule: stages[0] "measure": from rate 2e+09 exceeds 1e+09 rps`},
		{"negative duration", []Stage{{Name: "x", Duration: -time.Second, From: 1, To: 1}}, Constant, `schedule: stages[0] "x": negative duration -1s`},
		{"zero duration not last", []Stage{{Name: "x", From: 1, To: 1}, ok}, Constant, `schedule: stages[0] "x": zero duration (only the last stage may be open-ended)`},
		{"open-ended ramp", []Stage{ok, {Name: "x", From: 1, To: 2}}, Poisson, `schedule: stages[1] "x": open-ended stage (duration 0) must have a constant rate, not 1 to 2`},
		{"overflow", []Stage{{Duration: Forever/2 + 1, From: 1, To: 1}, {Duration: Forever/2 + 1, From: 1, To: 1}, ok}, Constant, `schedule: stages[1] "measure": total duration overflows`},
		{"late warm-up", []Stage{ok, {Name: "w", Duration: time.Second, Warmup: true}}, Constant, `schedule: stages[1] "w": warm-up stage after a measured stage (warm-up stages must come first)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSchedule(tt.stages, tt.arrival, 1)
			if err == nil {
				t.Fatalf("no error; schedule %+v", s.Stages())
			}
			if err.Error() != tt.want {
				t.Errorf("error %q\nwant  %q", err, tt.want)
			}
		})
	}
}

func TestParseArrival(t *testing.T) {
	for in, want := range map[string]Arrival{"constant": Constant, "Poisson": Poisson, " poisson ": Poisson} {
		if got, err := ParseArrival(in); err != nil || got != want {
			t.Errorf("ParseArrival(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "uniform"} {
		if _, err := ParseArrival(in); err == nil || !strings.Contains(err.Error(), "unknown arrival") {
			t.Errorf("ParseArrival(%q) error = %v", in, err)
		}
	}
}

func TestScheduleNextNoAlloc(t *testing.T) {
	for _, arr := range []Arrival{Constant, Poisson} {
		s := mustSchedule(t, []Stage{
			{Duration: time.Second, From: 0, To: 1e5},
			{From: 1e5, To: 1e5},
		}, arr, 1)
		if n := testing.AllocsPerRun(10000, func() { s.Next() }); n != 0 {
			t.Errorf("%s: Next allocates %v times per call", arr, n)
		}
	}
}

func BenchmarkScheduleNext(b *testing.B) {
	for _, arr := range []Arrival{Constant, Poisson} {
		b.Run(string(arr), func(b *testing.B) {
			s := mustSchedule(b, []Stage{
				{Duration: 10 * time.Second, From: 0, To: 1e5},
				{Duration: 10 * time.Second, From: 1e5, To: 1e5},
				{From: 5e4, To: 5e4},
			}, arr, 1)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := s.Next(); !ok {
					b.Fatal("ended")
				}
			}
		})
	}
}
