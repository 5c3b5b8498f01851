package loadgen

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Stage is a stretch of the schedule whose offered rate goes linearly from
// From to To (requests per second) over Duration.
//
// A Duration of 0 is allowed only on the last stage and means "forever": the
// schedule is then unbounded (for -n COUNT runs, where the caller stops after
// COUNT arrivals). An open-ended stage must have a constant rate (From == To).
//
// Warmup stages must come first; the arrivals they produce are excluded from
// the summary by time (see Schedule.WarmupEnd). An empty Name becomes
// "warmup" for a warm-up stage and "measure" otherwise.
type Stage struct {
	Name     string
	Duration time.Duration
	From, To float64
	Warmup   bool
}

// Arrival is the arrival process: how arrivals are placed under the rate.
type Arrival string

const (
	// Constant arrivals are evenly spaced under the rate (wrk2-style
	// constant throughput; the k-th arrival of a 1000 rps stage is at k ms).
	Constant Arrival = "constant"
	// Poisson arrivals form a seeded non-homogeneous Poisson process whose
	// intensity is the rate.
	Poisson Arrival = "poisson"
)

// Forever is what Duration returns for an unbounded schedule.
const Forever time.Duration = math.MaxInt64

// MaxRate is the largest rate a stage may have, in requests per second.
const MaxRate = 1e9

// ParseArrival parses "constant" or "poisson" (case-insensitive).
func ParseArrival(s string) (Arrival, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "constant":
		return Constant, nil
	case "poisson":
		return Poisson, nil
	}
	return "", fmt.Errorf("unknown arrival %q (want constant or poisson)", s)
}

// PhaseSpan is a named stretch of the schedule: one stage, or several adjacent
// stages with the same name and warm-up flag. End is Forever for an open-ended
// last phase.
type PhaseSpan struct {
	Name       string
	Start, End time.Duration
	Warmup     bool
}

// segment is a Stage with everything Next needs precomputed.
type segment struct {
	start, end time.Duration // [start, end); end == Forever if open-ended
	durSec     float64       // duration in seconds; +Inf if open-ended
	a, b       float64       // rate(τ) = a + b·τ, τ in seconds from start
	lamStart   float64       // Λ(start)
	lamEnd     float64       // Λ(end); +Inf for an open-ended stage with a > 0
}

// Schedule yields the intended arrival offsets (from time zero, in order) of
// an open-loop load: it knows only time and never sleeps or reads a clock.
//
// Let Λ(t) = ∫₀ᵗ rate. The n-th arrival (n = 0, 1, 2, …) is at the first
// instant t at which Λ(t) exceeds the target λₙ, that is at Λ(t) = λₙ unless
// the rate is zero there, in which case it is at the end of the zero-rate
// stretch:
//
//   - constant: λₙ = n, so the first arrival is at the start of the first
//     stretch with a positive rate (t = 0 if rate(0) > 0 or the rate ramps up
//     from 0 at once), and the n-th arrival of a constant 1000 rps stage is
//     exactly at n ms;
//   - poisson: λₙ = E₁ + … + Eₙ₊₁ with Eᵢ ~ Exp(1) from a PCG seeded with the
//     seed (time rescaling), which is a non-homogeneous Poisson process with
//     intensity rate(t).
//
// Λ is inverted in closed form within each linear stage, from the cumulative
// target, so there is no drift however long the run. Offsets are rounded to
// the nanosecond. Stages with zero rate contribute no arrivals. Next does not
// allocate.
//
// A Schedule is not safe for concurrent use.
type Schedule struct {
	stages  []Stage
	segs    []segment
	arrival Arrival
	seed    uint64
	total   time.Duration // Forever if unbounded

	// iteration state
	src    *rand.PCG
	rng    *rand.Rand
	n      uint64  // arrivals returned so far (constant target)
	target float64 // Poisson cumulative target
	cur    int     // current segment
	done   bool
}

// NewConstant returns a schedule with a constant rate for duration, or
// forever if duration is 0.
func NewConstant(rate float64, duration time.Duration) (*Schedule, error) {
	return NewSchedule([]Stage{{Name: "measure", Duration: duration, From: rate, To: rate}}, Constant, 0)
}

// NewSchedule checks the stages and returns a schedule positioned at its
// start. The seed is used only by Poisson arrivals.
func NewSchedule(stages []Stage, arrival Arrival, seed uint64) (*Schedule, error) {
	if len(stages) == 0 {
		return nil, errors.New("schedule: no stages")
	}
	if arrival != Constant && arrival != Poisson {
		return nil, fmt.Errorf("schedule: unknown arrival %q (want constant or poisson)", string(arrival))
	}
	s := &Schedule{
		stages:  make([]Stage, len(stages)),
		segs:    make([]segment, len(stages)),
		arrival: arrival,
		seed:    seed,
	}
	var start time.Duration
	var lam float64
	seenMain := false
	for i, st := range stages {
		if st.Name == "" {
			st.Name = "measure"
			if st.Warmup {
				st.Name = "warmup"
			}
		}
		if err := checkStage(st, i, len(stages), start, seenMain); err != nil {
			return nil, err
		}
		seenMain = seenMain || !st.Warmup
		seg := newSegment(st, start, lam)
		s.stages[i] = st
		s.segs[i] = seg
		start, lam = seg.end, seg.lamEnd
	}
	s.total = start
	if arrival == Poisson {
		s.src = rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
		s.rng = rand.New(s.src)
	}
	s.Reset()
	return s, nil
}

// checkStage checks stage i of n (named), which starts at start; seenMain: a measured stage came
// before it.
func checkStage(st Stage, i, n int, start time.Duration, seenMain bool) error {
	where := fmt.Sprintf("schedule: stages[%d] %q", i, st.Name)
	for _, r := range [...]struct {
		name string
		v    float64
	}{{"from", st.From}, {"to", st.To}} {
		switch {
		case math.IsNaN(r.v) || math.IsInf(r.v, 0):
			return fmt.Errorf("%s: %s rate %v is not a finite number", where, r.name, r.v)
		case r.v < 0:
			return fmt.Errorf("%s: negative %s rate %v", where, r.name, r.v)
		case r.v > MaxRate:
			return fmt.Errorf("%s: %s rate %v exceeds %g rps", where, r.name, r.v, float64(MaxRate))
		}
	}
	switch {
	case st.Duration < 0:
		return fmt.Errorf("%s: negative duration %v", where, st.Duration)
	case st.Duration == 0 && i != n-1:
		return fmt.Errorf("%s: zero duration (only the last stage may be open-ended)", where)
	case st.Duration == 0 && st.From != st.To:
		return fmt.Errorf("%s: open-ended stage (duration 0) must have a constant rate, not %v to %v", where, st.From, st.To)
	case st.Duration > 0 && start >= Forever-st.Duration:
		return fmt.Errorf("%s: total duration overflows", where)
	}
	if st.Warmup && seenMain {
		return fmt.Errorf("%s: warm-up stage after a measured stage (warm-up stages must come first)", where)
	}
	return nil
}

// newSegment is stage st's segment of the rate curve, starting at start with lam arrivals
// expected before it.
func newSegment(st Stage, start time.Duration, lam float64) segment {
	seg := segment{start: start, a: st.From, lamStart: lam}
	if st.Duration == 0 {
		seg.end = Forever
		seg.durSec = math.Inf(1)
		seg.lamEnd = lam
		if st.From > 0 {
			seg.lamEnd = math.Inf(1)
		}
	} else {
		seg.end = start + st.Duration
		seg.durSec = st.Duration.Seconds()
		seg.b = (st.To - st.From) / seg.durSec
		seg.lamEnd = lam + (st.From+st.To)/2*seg.durSec
	}
	return seg
}

// Reset rewinds the schedule to its start; with the same seed, Poisson
// arrivals repeat exactly.
func (s *Schedule) Reset() {
	s.n, s.target, s.cur, s.done = 0, 0, 0, false
	if s.src != nil {
		s.src.Seed(s.seed, s.seed^0x9e3779b97f4a7c15)
	}
}

// Next returns the next intended arrival offset. ok is false once the
// schedule is past its last stage (never, for an unbounded schedule with a
// positive final rate).
func (s *Schedule) Next() (at time.Duration, ok bool) {
	if s.done {
		return 0, false
	}
	var target float64
	if s.arrival == Poisson {
		s.target += s.rng.ExpFloat64()
		target = s.target
	} else {
		target = float64(s.n)
	}
	s.n++
	// Find the segment with lamStart <= target < lamEnd; zero-mass
	// segments (rate 0) are skipped.
	for s.cur < len(s.segs) && !(target < s.segs[s.cur].lamEnd) {
		s.cur++
	}
	if s.cur == len(s.segs) {
		s.done = true
		return 0, false
	}
	g := &s.segs[s.cur]
	l := target - g.lamStart
	var ns float64
	switch {
	case l <= 0:
		ns = 0
	case g.b == 0:
		ns = l * 1e9 / g.a
	default:
		// a·τ + b·τ²/2 = l, in the form that is stable for b → 0 and b < 0.
		d := g.a*g.a + 2*g.b*l
		if d < 0 {
			d = 0
		}
		ns = 2 * l * 1e9 / (g.a + math.Sqrt(d))
	}
	ns = math.Round(ns)
	if span := float64(g.end - g.start); ns > span || math.IsNaN(ns) {
		ns = span // rounding at the end of a stage; Forever for open-ended
	}
	if ns >= float64(Forever-g.start) {
		s.done = true
		return 0, false
	}
	return g.start + time.Duration(ns), true
}

// segAt returns the index of the segment containing t, or -1 if t is
// before 0 or at or after the end of the schedule.
func (s *Schedule) segAt(t time.Duration) int {
	if t < 0 || t >= s.total {
		return -1
	}
	lo, hi := 0, len(s.segs)-1
	for lo < hi {
		m := int(uint(lo+hi+1) >> 1)
		if s.segs[m].start <= t {
			lo = m
		} else {
			hi = m - 1
		}
	}
	return lo
}

// RateAt returns the offered rate (rps) at offset t; 0 outside the schedule.
func (s *Schedule) RateAt(t time.Duration) float64 {
	i := s.segAt(t)
	if i < 0 {
		return 0
	}
	g := &s.segs[i]
	return g.a + g.b*(t-g.start).Seconds()
}

// lambda returns Λ(t), with t clamped to [0, Duration()].
func (s *Schedule) lambda(t time.Duration) float64 {
	if t <= 0 {
		return 0
	}
	i := s.segAt(t)
	if i < 0 {
		return s.segs[len(s.segs)-1].lamEnd
	}
	g := &s.segs[i]
	tau := (t - g.start).Seconds()
	return g.lamStart + g.a*tau + g.b*tau*tau/2
}

// Expected returns the expected number of arrivals in [from, to): the
// integral of the rate. It is 0 if to <= from.
func (s *Schedule) Expected(from, to time.Duration) float64 {
	if to <= from {
		return 0
	}
	return s.lambda(to) - s.lambda(from)
}

// Duration returns the total length of the schedule, or Forever if it is
// unbounded.
func (s *Schedule) Duration() time.Duration { return s.total }

// Bounded reports whether the schedule ends.
func (s *Schedule) Bounded() bool { return s.total != Forever }

// StageAt returns the stage containing offset t (stages are [start, end)) and
// its index, or the zero Stage and -1 if t is outside the schedule.
func (s *Schedule) StageAt(t time.Duration) (Stage, int) {
	i := s.segAt(t)
	if i < 0 {
		return Stage{}, -1
	}
	return s.stages[i], i
}

// StageStart returns the offset at which stage i starts.
func (s *Schedule) StageStart(i int) time.Duration { return s.segs[i].start }

// WarmupEnd returns the end of the leading warm-up stages, or 0 if there are
// none. Arrivals intended before it belong to the warm-up.
func (s *Schedule) WarmupEnd() time.Duration {
	var end time.Duration
	for i, st := range s.stages {
		if !st.Warmup {
			break
		}
		end = s.segs[i].end
	}
	return end
}

// Phases returns one span per stage, with adjacent stages that have the same
// name and warm-up flag merged.
func (s *Schedule) Phases() []PhaseSpan {
	var out []PhaseSpan
	for i, st := range s.stages {
		g := s.segs[i]
		if n := len(out); n > 0 && out[n-1].Name == st.Name && out[n-1].Warmup == st.Warmup {
			out[n-1].End = g.end
			continue
		}
		out = append(out, PhaseSpan{Name: st.Name, Start: g.start, End: g.end, Warmup: st.Warmup})
	}
	return out
}

// Stages returns a copy of the stages (with default names filled in).
func (s *Schedule) Stages() []Stage { return append([]Stage(nil), s.stages...) }

// Arrival returns the arrival process.
func (s *Schedule) Arrival() Arrival { return s.arrival }

// Seed returns the seed of the Poisson arrivals.
func (s *Schedule) Seed() uint64 { return s.seed }
