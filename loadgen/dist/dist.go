package dist

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Kind identifies the shape of a distribution.
type Kind int

// Distribution shapes.
const (
	Fixed Kind = iota
	Uniform
	Exp
	Normal
	LogNormal
)

// z99 is the standard normal 99th percentile.
const z99 = 2.3263478740408408

// Dist is an immutable duration distribution. The zero value is a fixed 0.
type Dist struct {
	kind Kind
	a, b time.Duration // fixed: a; uniform: [a,b]; exp: mean a; normal: mean a, stddev b; lognormal: median a, p99 b
	mu   float64       // lognormal: ln(median in ns)
	sig  float64       // lognormal: sigma
}

// NewFixed returns a distribution that always yields d (d must be >= 0).
func NewFixed(d time.Duration) Dist { return Dist{kind: Fixed, a: max(d, 0)} }

// Parse parses a distribution string (see the package comment).
func Parse(s string) (Dist, error) {
	s = strings.TrimSpace(s)
	kind, arg, hasKind := strings.Cut(s, ":")
	if !hasKind {
		d, err := dur(s)
		if err != nil {
			return Dist{}, fmt.Errorf("invalid distribution %q: want DURATION, fixed:D, uniform:MIN-MAX, exp:MEAN, normal:MEAN,STDDEV or lognormal:MEDIAN,P99", s)
		}
		return Dist{kind: Fixed, a: d}, nil
	}
	bad := func(want string) (Dist, error) {
		return Dist{}, fmt.Errorf("invalid distribution %q: want %s", s, want)
	}
	switch strings.ToLower(kind) {
	case "fixed", "const", "constant":
		d, err := dur(arg)
		if err != nil {
			return bad("fixed:DURATION")
		}
		return Dist{kind: Fixed, a: d}, nil
	case "uniform":
		lo, hi, ok := strings.Cut(arg, "-")
		a, err1 := dur(lo)
		b, err2 := dur(hi)
		if !ok || err1 != nil || err2 != nil {
			return bad("uniform:MIN-MAX")
		}
		if b < a {
			return bad("uniform:MIN-MAX with MIN <= MAX")
		}
		return Dist{kind: Uniform, a: a, b: b}, nil
	case "exp", "exponential":
		m, err := dur(arg)
		if err != nil {
			return bad("exp:MEAN")
		}
		return Dist{kind: Exp, a: m}, nil
	case "normal", "gauss", "gaussian":
		ms, ss, ok := strings.Cut(arg, ",")
		m, err1 := dur(ms)
		sd, err2 := dur(ss)
		if !ok || err1 != nil || err2 != nil {
			return bad("normal:MEAN,STDDEV")
		}
		return Dist{kind: Normal, a: m, b: sd}, nil
	case "lognormal", "lognorm":
		ms, ps, ok := strings.Cut(arg, ",")
		med, err1 := dur(ms)
		p99, err2 := dur(ps)
		if !ok || err1 != nil || err2 != nil {
			return bad("lognormal:MEDIAN,P99")
		}
		if med <= 0 || p99 < med {
			return bad("lognormal:MEDIAN,P99 with 0 < MEDIAN <= P99")
		}
		return Dist{
			kind: LogNormal, a: med, b: p99,
			mu:  math.Log(float64(med)),
			sig: math.Log(float64(p99)/float64(med)) / z99,
		}, nil
	default:
		return bad("one of fixed, uniform, exp, normal, lognormal before ':'")
	}
}

// MustParse is Parse that panics on error (for constants in code and tests).
func MustParse(s string) Dist {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func dur(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %s", s)
	}
	return d, nil
}

// Kind returns the distribution's shape.
func (d Dist) Kind() Kind { return d.kind }

// IsZero reports whether the distribution always yields 0.
func (d Dist) IsZero() bool {
	switch d.kind {
	case Fixed, Exp:
		return d.a == 0
	case Uniform:
		return d.b == 0
	case Normal:
		return d.a == 0 && d.b == 0
	}
	return false
}

// Sample draws one value. r may be nil, in which case the global
// math/rand/v2 source is used (safe for concurrent use); a non-nil r is not.
func (d Dist) Sample(r *rand.Rand) time.Duration {
	switch d.kind {
	case Fixed:
		return d.a
	case Uniform:
		if d.b == d.a {
			return d.a
		}
		span := int64(d.b-d.a) + 1
		if r != nil {
			return d.a + time.Duration(r.Int64N(span))
		}
		return d.a + time.Duration(rand.Int64N(span))
	case Exp:
		return clampDur(float64(d.a) * expFloat(r))
	case Normal:
		return clampDur(float64(d.a) + float64(d.b)*normFloat(r))
	case LogNormal:
		return clampDur(math.Exp(d.mu + d.sig*normFloat(r)))
	}
	return 0
}

func expFloat(r *rand.Rand) float64 {
	if r != nil {
		return r.ExpFloat64()
	}
	return rand.ExpFloat64()
}

func normFloat(r *rand.Rand) float64 {
	if r != nil {
		return r.NormFloat64()
	}
	return rand.NormFloat64()
}

func clampDur(ns float64) time.Duration {
	switch {
	case ns <= 0 || math.IsNaN(ns):
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// Mean returns the distribution's expected value (for normal, of the
// clamped-at-zero distribution).
func (d Dist) Mean() time.Duration {
	switch d.kind {
	case Fixed, Exp:
		return d.a
	case Uniform:
		return d.a + (d.b-d.a)/2
	case Normal:
		if d.b == 0 {
			return d.a
		}
		// E[max(X,0)] = mu*Phi(mu/s) + s*phi(mu/s).
		mu, s := float64(d.a), float64(d.b)
		z := mu / s
		phi := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
		cdf := 0.5 * math.Erfc(-z/math.Sqrt2)
		return clampDur(mu*cdf + s*phi)
	case LogNormal:
		return clampDur(math.Exp(d.mu + d.sig*d.sig/2))
	}
	return 0
}

// String returns the canonical form, which Parse accepts.
func (d Dist) String() string {
	switch d.kind {
	case Uniform:
		return fmt.Sprintf("uniform:%s-%s", d.a, d.b)
	case Exp:
		return fmt.Sprintf("exp:%s", d.a)
	case Normal:
		return fmt.Sprintf("normal:%s,%s", d.a, d.b)
	case LogNormal:
		return fmt.Sprintf("lognormal:%s,%s", d.a, d.b)
	}
	return d.a.String()
}

// Set implements pflag.Value / flag.Value.
func (d *Dist) Set(s string) error {
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Type implements pflag.Value.
func (d *Dist) Type() string { return "dist" }
