package dist

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    string // canonical String(); "" when an error is expected
		mean    time.Duration
		wantErr string
	}{
		{in: "0", want: "0s", mean: 0},
		{in: "10ms", want: "10ms", mean: 10 * time.Millisecond},
		{in: " fixed:1.5s ", want: "1.5s", mean: 1500 * time.Millisecond},
		{in: "uniform:1ms-20ms", want: "uniform:1ms-20ms", mean: 10500 * time.Microsecond},
		{in: "uniform:5ms-5ms", want: "uniform:5ms-5ms", mean: 5 * time.Millisecond},
		{in: "exp:5ms", want: "exp:5ms", mean: 5 * time.Millisecond},
		{in: "normal:10ms,2ms", want: "normal:10ms,2ms", mean: 10 * time.Millisecond},
		{in: "normal:10ms,0s", want: "normal:10ms,0s", mean: 10 * time.Millisecond},
		{in: "lognormal:10ms,80ms", want: "lognormal:10ms,80ms"},
		{in: "", wantErr: `invalid distribution "": want DURATION`},
		{in: "-1ms", wantErr: `invalid distribution "-1ms"`},
		{in: "fast", wantErr: `invalid distribution "fast"`},
		{in: "uniform:5ms", wantErr: `invalid distribution "uniform:5ms": want uniform:MIN-MAX`},
		{in: "uniform:20ms-1ms", wantErr: `want uniform:MIN-MAX with MIN <= MAX`},
		{in: "exp:", wantErr: `want exp:MEAN`},
		{in: "normal:10ms", wantErr: `want normal:MEAN,STDDEV`},
		{in: "lognormal:10ms,5ms", wantErr: `0 < MEDIAN <= P99`},
		{in: "zipf:1ms", wantErr: `want one of fixed, uniform, exp, normal, lognormal`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := d.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if tt.mean != 0 || tt.want == "0s" {
				if got := d.Mean(); got != tt.mean {
					t.Errorf("Mean() = %v, want %v", got, tt.mean)
				}
			}
			// The canonical form round-trips.
			d2, err := Parse(d.String())
			if err != nil || d2 != d {
				t.Errorf("round trip of %q: %v, %v", d.String(), d2, err)
			}
		})
	}
}

func TestSampleMean(t *testing.T) {
	tests := []struct {
		in   string
		mean time.Duration // expected sample mean
		tol  float64       // relative tolerance
		lo   time.Duration // every sample >= lo
		hi   time.Duration // every sample <= hi (0 = no bound)
	}{
		{in: "10ms", mean: 10 * time.Millisecond, tol: 0, lo: 10 * time.Millisecond, hi: 10 * time.Millisecond},
		{in: "uniform:1ms-21ms", mean: 11 * time.Millisecond, tol: 0.02, lo: time.Millisecond, hi: 21 * time.Millisecond},
		{in: "exp:5ms", mean: 5 * time.Millisecond, tol: 0.03},
		{in: "normal:10ms,2ms", mean: 10 * time.Millisecond, tol: 0.01},
		// Heavy clamping: mean of max(X,0) is well above 1ms.
		{in: "normal:1ms,10ms", mean: MustParse("normal:1ms,10ms").Mean(), tol: 0.05},
		{in: "lognormal:10ms,80ms", mean: MustParse("lognormal:10ms,80ms").Mean(), tol: 0.05},
	}
	const n = 200000
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d := MustParse(tt.in)
			r := rand.New(rand.NewPCG(1, 2))
			var sum float64
			for range n {
				v := d.Sample(r)
				if v < tt.lo || (tt.hi > 0 && v > tt.hi) {
					t.Fatalf("sample %v outside [%v, %v]", v, tt.lo, tt.hi)
				}
				if v < 0 {
					t.Fatalf("negative sample %v", v)
				}
				sum += float64(v)
			}
			got := sum / n
			if rel := math.Abs(got-float64(tt.mean)) / float64(tt.mean); rel > tt.tol {
				t.Errorf("sample mean %v, want %v ± %.0f%%", time.Duration(got), tt.mean, tt.tol*100)
			}
			if tt.in != "normal:1ms,10ms" && tt.in[0] != 'l' {
				if rel := math.Abs(float64(d.Mean()-tt.mean)) / float64(tt.mean); rel > 1e-9 {
					t.Errorf("Mean() = %v, want %v", d.Mean(), tt.mean)
				}
			}
		})
	}
}

func TestLogNormalQuantiles(t *testing.T) {
	d := MustParse("lognormal:10ms,80ms")
	r := rand.New(rand.NewPCG(3, 4))
	const n = 100000
	var below50, below99 int
	for range n {
		v := d.Sample(r)
		if v <= 10*time.Millisecond {
			below50++
		}
		if v <= 80*time.Millisecond {
			below99++
		}
	}
	if f := float64(below50) / n; math.Abs(f-0.5) > 0.01 {
		t.Errorf("P(X<=median) = %.3f, want 0.5", f)
	}
	if f := float64(below99) / n; math.Abs(f-0.99) > 0.003 {
		t.Errorf("P(X<=p99) = %.4f, want 0.99", f)
	}
}

func TestZeroAndNilRand(t *testing.T) {
	var z Dist
	if !z.IsZero() || z.Sample(nil) != 0 || z.String() != "0s" {
		t.Fatalf("zero Dist: IsZero=%v Sample=%v String=%q", z.IsZero(), z.Sample(nil), z.String())
	}
	if MustParse("exp:1ms").IsZero() {
		t.Error("exp:1ms reported zero")
	}
	d := MustParse("uniform:1ms-2ms")
	for range 1000 {
		if v := d.Sample(nil); v < time.Millisecond || v > 2*time.Millisecond {
			t.Fatalf("Sample(nil) = %v", v)
		}
	}
	var fv Dist
	if err := fv.Set("exp:3ms"); err != nil || fv.String() != "exp:3ms" || fv.Type() != "dist" {
		t.Errorf("Set: %v %v", err, fv)
	}
}
