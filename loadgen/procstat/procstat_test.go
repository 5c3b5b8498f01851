package procstat

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestCPUPercent(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name      string
		prev, cur Sample
		want      float64
	}{
		{"half core", Sample{At: t0}, Sample{At: t0.Add(time.Second), CPUUser: 300 * time.Millisecond, CPUSystem: 200 * time.Millisecond}, 50},
		{"two cores", Sample{At: t0, CPUUser: time.Second}, Sample{At: t0.Add(time.Second), CPUUser: 3 * time.Second}, 200},
		{"idle", Sample{At: t0, CPUUser: time.Second}, Sample{At: t0.Add(time.Second), CPUUser: time.Second}, 0},
		{"child lost", Sample{At: t0, CPUUser: 5 * time.Second}, Sample{At: t0.Add(time.Second), CPUUser: time.Second}, 0},
		{"same time", Sample{At: t0}, Sample{At: t0, CPUUser: time.Second}, 0},
		{"reversed", Sample{At: t0.Add(time.Second)}, Sample{At: t0, CPUUser: time.Second}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CPUPercent(tt.prev, tt.cur); math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// line returns n points of y = a·x + b with a fraction of wild outliers.
func line(n int, a, b, outliers float64, seed uint64) (x, y []float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	x = make([]float64, n)
	y = make([]float64, n)
	for i := range n {
		x[i] = float64(i)
		y[i] = a*x[i] + b
		if r.Float64() < outliers {
			y[i] += (r.Float64() - 0.3) * 1e6
		}
	}
	return x, y
}

func TestRobustSlope(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name         string
		x, y         []float64
		slope, icept float64
		tol          float64 // relative tolerance on slope
		ok           bool
	}{
		{"empty", nil, nil, 0, 0, 0, false},
		{"one point", []float64{1}, []float64{2}, 0, 0, 0, false},
		{"length mismatch", []float64{1, 2}, []float64{1}, 0, 0, 0, false},
		{"all x equal", []float64{3, 3, 3}, []float64{1, 2, 3}, 0, 0, 0, false},
		{"two points", []float64{0, 2}, []float64{1, 5}, 2, 1, 1e-12, true},
		{"flat", []float64{0, 1, 2, 3}, []float64{7, 7, 7, 7}, 0, 7, 0, true},
		{"negative", []float64{0, 1, 2, 3, 4}, []float64{10, 7, 4, 1, -2}, -3, 10, 1e-12, true},
		{"unsorted with dup x", []float64{3, 1, 1, 0, 2}, []float64{7, 3, 3, 1, 5}, 2, 1, 1e-12, true},
		{"nan ignored", []float64{0, 1, 2, 3, nan}, []float64{1, 3, nan, 7, 9}, 2, 1, 1e-12, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c, ok := RobustSlope(tt.x, tt.y)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if math.Abs(s-tt.slope) > tt.tol*math.Max(1, math.Abs(tt.slope)) || math.Abs(c-tt.icept) > 1e-9 {
				t.Fatalf("got slope %v intercept %v, want %v %v", s, c, tt.slope, tt.icept)
			}
		})
	}
}

func TestRobustSlopeOutliers(t *testing.T) {
	for _, n := range []int{50, 500, 2000, 2001, 20000, 86400} {
		x, y := line(n, 2, 1, 0.10, uint64(n))
		s, c, ok := RobustSlope(x, y)
		if !ok || math.Abs(s-2)/2 > 0.01 || math.Abs(c-1) > 0.01*float64(n) {
			t.Errorf("n=%d: slope %v intercept %v ok %v, want 2, 1", n, s, c, ok)
		}
		// Deterministic.
		if s2, c2, _ := RobustSlope(x, y); s2 != s || c2 != c {
			t.Errorf("n=%d: not deterministic: %v,%v vs %v,%v", n, s, c, s2, c2)
		}
	}
}

func TestMedian(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{1, 2, 3, 4, 17, 100, 1001, 5000} {
		for _, dups := range []int{0, 3} {
			a := make([]float64, n)
			for i := range a {
				a[i] = float64(r.IntN(n*10 + 1))
				if dups > 0 {
					a[i] = float64(r.IntN(dups))
				}
			}
			b := append([]float64(nil), a...)
			got := median(a)
			sortFloats(b)
			want := b[n/2]
			if n%2 == 0 {
				want = (b[n/2-1] + b[n/2]) / 2
			}
			if got != want {
				t.Fatalf("n=%d dups=%d: median %v, want %v", n, dups, got, want)
			}
		}
	}
}

func sortFloats(a []float64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func BenchmarkRobustSlope(b *testing.B) {
	for _, n := range []int{2000, 86400} {
		x, y := line(n, 2, 1, 0.10, 1)
		b.Run(time.Duration(n*int(time.Second)).String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := RobustSlope(x, y); !ok {
					b.Fatal("not ok")
				}
			}
		})
	}
}
