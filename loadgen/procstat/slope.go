package procstat

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

const (
	// exactMaxPoints is the largest input for which RobustSlope uses all
	// n(n-1)/2 pairs (about 2M slopes at 2000 points).
	exactMaxPoints = 2000
	// sampledPairs is the number of pairs drawn for larger inputs. The
	// standard error of the median of this many slopes is ~0.1% of the
	// slopes' spread, far below the noise of any soak metric.
	sampledPairs = 1 << 20
)

// RobustSlope fits y ≈ slope·x + intercept with the Theil–Sen estimator: the
// slope is the median of the pairwise slopes (y[j]-y[i])/(x[j]-x[i]) over
// pairs with x[i] != x[j], the intercept the median of y[i] - slope·x[i]. It
// tolerates up to ~29% arbitrary outliers.
//
// Up to 2000 points all pairs are used. Above that, 2^20 pairs are drawn
// with a fixed-seed PRNG, so the result is deterministic and the cost is
// O(n + 2^20) (about 10–20 ms), independent of n beyond the intercept.
//
// Points with a non-finite coordinate contribute no finite slope and are
// effectively ignored. The intercept is the value at x = 0, so pass x
// relative to the start of the run (e.g. hours since start), not Unix time.
// ok is false if len(x) != len(y), there are fewer than 2 points, or no pair
// has distinct x (e.g. all x equal).
func RobustSlope(x, y []float64) (slope, intercept float64, ok bool) {
	n := len(x)
	if n != len(y) || n < 2 {
		return 0, 0, false
	}
	var slopes []float64
	if n <= exactMaxPoints {
		slopes = make([]float64, 0, max(n*(n-1)/2, n))
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				slopes = appendSlope(slopes, x, y, i, j)
			}
		}
	} else {
		slopes = make([]float64, 0, max(sampledPairs, n))
		rng := rand.New(rand.NewPCG(0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9))
		for tries := 0; tries < 4*sampledPairs && len(slopes) < sampledPairs; tries++ {
			i := rng.IntN(n)
			j := rng.IntN(n - 1)
			if j >= i {
				j++
			}
			slopes = appendSlope(slopes, x, y, i, j)
		}
	}
	if len(slopes) == 0 {
		return 0, 0, false
	}
	slope = median(slopes)

	resid := slopes[:0] // cap >= n
	for i := range n {
		if r := y[i] - slope*x[i]; !math.IsNaN(r) && !math.IsInf(r, 0) {
			resid = append(resid, r)
		}
	}
	if len(resid) == 0 {
		return 0, 0, false
	}
	return slope, median(resid), true
}

func appendSlope(dst, x, y []float64, i, j int) []float64 {
	dx := x[j] - x[i]
	if dx == 0 || math.IsNaN(dx) {
		return dst
	}
	s := (y[j] - y[i]) / dx
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return dst
	}
	return append(dst, s)
}

// median returns the median of a (len(a) > 0, no NaNs), reordering a.
func median(a []float64) float64 {
	k := len(a) / 2
	selectK(a, k)
	m := a[k]
	if len(a)%2 == 0 {
		lo := a[0]
		for _, v := range a[1:k] {
			lo = max(lo, v)
		}
		m = lo + (m-lo)/2
	}
	return m
}

// selectK reorders a so that a[k] is the k-th smallest element and
// a[:k] <= a[k] <= a[k+1:]. Quickselect with a median-of-three pivot and a
// three-way partition (many equal slopes are common with quantized data);
// falls back to sorting if partitioning degenerates.
func selectK(a []float64, k int) {
	lo, hi := 0, len(a)
	budget := 2*bits.Len(uint(len(a))) + 8
	for hi-lo > 16 {
		if budget == 0 {
			break
		}
		budget--
		p := median3(a[lo], a[lo+(hi-lo)/2], a[hi-1])
		lt, i, gt := lo, lo, hi // [lo,lt) < p, [lt,i) == p, [gt,hi) > p
		for i < gt {
			switch v := a[i]; {
			case v < p:
				a[lt], a[i] = v, a[lt]
				lt++
				i++
			case v > p:
				gt--
				a[i], a[gt] = a[gt], v
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return
		}
	}
	slices.Sort(a[lo:hi])
}

func median3(a, b, c float64) float64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return max(a, b)
}
