package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A small server-side SVG chart helper: linear and log scales, time and value axes, line series,
// bars, shaded spans and event markers. The template "chart" in report.html.tmpl draws a chart.

const (
	chartW      = 960
	chartH      = 280
	chartLeft   = 70
	chartRight  = 40
	chartTop    = 16
	chartBottom = 34
)

type chart struct {
	Name    string // data-chart
	Title   string
	Note    string
	W, H    int
	X, Y    string // plot area origin (top-left)
	PW, PH  string // plot area size
	XR, YB  string // plot area right and bottom
	TickX   string // x of y tick labels
	TickY   string // y of x tick labels
	YLabelX string // rotated y axis label position
	YLabelY string
	XLabel  string
	YLabel  string
	XTicks  []tick
	YTicks  []tick
	Series  []series
	Shades  []shade
	Markers []marker
	Refs    []refLine
	Labels  []label
	Legend  bool

	px, py, pw, ph float64
	xs, ys         scale
}

type tick struct {
	Pos   string // coordinate along the axis
	Label string
	Major bool
}

type series struct {
	Name  string
	Color string
	D     string
	Dash  string
	Fill  bool // a filled shape (bars) rather than a line
}

type shade struct {
	X, W  string
	LX    string // label x
	Label string
}

type marker struct {
	X     string
	LX    string // label x
	Color string
	Class string // ev-bad, ev-warn or ""
	Label string
	Title string
}

type refLine struct {
	Y     string
	LY    string // label y
	Color string
	Label string
}

type label struct {
	X, Y   string
	Anchor string
	Text   string
}

type scale struct {
	d0, d1 float64 // domain (log10 of it when log)
	r0, r1 float64
	log    bool
}

func (s scale) at(v float64) float64 {
	if s.log {
		if v <= 0 {
			return math.NaN()
		}
		v = math.Log10(v)
	}
	if s.d1 == s.d0 {
		return s.r0
	}
	return s.r0 + (v-s.d0)/(s.d1-s.d0)*(s.r1-s.r0)
}

func newChart(name, title string) *chart {
	c := &chart{Name: name, Title: title, W: chartW, H: chartH, Legend: true}
	c.place(chartLeft, chartTop, chartW-chartLeft-chartRight, chartH-chartTop-chartBottom)
	return c
}

// place sets the plot area.
func (c *chart) place(x, y, w, h float64) {
	c.px, c.py, c.pw, c.ph = x, y, w, h
	c.X, c.Y, c.PW, c.PH = f1(x), f1(y), f1(w), f1(h)
	c.XR, c.YB = f1(x+w), f1(y+h)
	c.TickX, c.TickY = f1(x-6), f1(y+h+16)
	c.YLabelX, c.YLabelY = f1(-(y + h/2)), "14"
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// setX sets a linear x axis over [d0, d1] with ticks labelled by fmtTick.
func (c *chart) setX(d0, d1 float64, ticks []float64, fmtTick func(float64) string) {
	if d1 <= d0 {
		d1 = d0 + 1
	}
	c.xs = scale{d0: d0, d1: d1, r0: c.px, r1: c.px + c.pw}
	c.XTicks = c.XTicks[:0]
	for _, t := range ticks {
		c.XTicks = append(c.XTicks, tick{Pos: f1(c.xs.at(t)), Label: fmtTick(t), Major: true})
	}
}

// setYLinear sets a linear y axis from 0 to a nice value above max.
func (c *chart) setYLinear(maxV float64, fmtTick func(float64) string) {
	if !(maxV > 0) {
		maxV = 1
	}
	c.setYLinearStep(maxV, niceStep(maxV/5), fmtTick)
}

// setYLinearBytes is setYLinear for byte counts: steps are round numbers of KiB, MiB or GiB.
func (c *chart) setYLinearBytes(maxV float64) {
	if !(maxV > 0) {
		maxV = 1
	}
	unit := 1.0
	for unit*1024 <= maxV {
		unit *= 1024
	}
	c.setYLinearStep(maxV, niceStep(maxV/unit/5)*unit, fmtBytes)
}

func (c *chart) setYLinearStep(maxV, step float64, fmtTick func(float64) string) {
	top := math.Ceil(maxV*1.04/step) * step
	c.ys = scale{d0: 0, d1: top, r0: c.py + c.ph, r1: c.py}
	c.YTicks = c.YTicks[:0]
	for v := 0.0; v <= top*1.0000001; v += step {
		c.YTicks = append(c.YTicks, tick{Pos: f1(c.ys.at(v)), Label: fmtTick(v), Major: true})
	}
}

// setYLog sets a log10 y axis covering [minV, maxV] in whole decades, with 2 and 5 as minor
// labelled ticks when the range spans few decades.
func (c *chart) setYLog(minV, maxV float64, fmtTick func(float64) string) {
	if !(minV > 0) {
		minV = 1
	}
	if maxV < minV {
		maxV = minV
	}
	lo, hi := math.Floor(math.Log10(minV)), math.Ceil(math.Log10(maxV))
	if hi-lo < 1 {
		hi = lo + 1
	}
	c.ys = scale{d0: lo, d1: hi, r0: c.py + c.ph, r1: c.py, log: true}
	c.YTicks = c.YTicks[:0]
	for d := lo; d <= hi; d++ {
		v := math.Pow(10, d)
		c.YTicks = append(c.YTicks, tick{Pos: f1(c.ys.at(v)), Label: fmtTick(v), Major: true})
		if d < hi && hi-lo <= 3 {
			for _, m := range []float64{2, 5} {
				c.YTicks = append(c.YTicks, tick{Pos: f1(c.ys.at(m * v)), Label: fmtTick(m * v)})
			}
		}
	}
}

// line adds a line series through (xs[i], ys[i]); NaN, and for a log axis non-positive, values
// leave a gap. A point with no neighbour is drawn as a dot.
func (c *chart) line(name, color, dash string, xs, ys []float64) {
	var b strings.Builder
	run := 0
	var lastX, lastY float64
	flush := func() {
		if run == 1 {
			b.WriteString("h0.01")
		}
		run = 0
	}
	for i := range xs {
		x, y := c.xs.at(xs[i]), c.ys.at(ys[i])
		if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(y, 0) {
			flush()
			continue
		}
		if run == 0 {
			b.WriteString("M")
		} else {
			if f1(x) == f1(lastX) && f1(y) == f1(lastY) {
				continue
			}
			b.WriteString("L")
		}
		b.WriteString(f1(x))
		b.WriteByte(',')
		b.WriteString(f1(y))
		lastX, lastY = x, y
		run++
	}
	flush()
	c.Series = append(c.Series, series{Name: name, Color: color, D: b.String(), Dash: dash})
}

// shadeX shades the x range [x0, x1] (data units), clipped to the plot.
func (c *chart) shadeX(x0, x1 float64, lbl string) {
	a, b := c.xs.at(x0), c.xs.at(x1)
	a, b = max(a, c.px), min(b, c.px+c.pw)
	if b <= a {
		return
	}
	c.Shades = append(c.Shades, shade{X: f1(a), W: f1(b - a), LX: f1(a + 4), Label: lbl})
}

// markX draws a vertical event marker at x (data units) when it lies within the plot.
func (c *chart) markX(x float64, color, lbl, title string) {
	p := c.xs.at(x)
	if math.IsNaN(p) || p < c.px-0.5 || p > c.px+c.pw+0.5 {
		return
	}
	class := ""
	switch color {
	case colRed:
		class = "ev-bad"
	case colAmber:
		class = "ev-warn"
	}
	c.Markers = append(c.Markers, marker{X: f1(p), LX: f1(p + 3), Color: color, Class: class, Label: lbl, Title: title})
}

// refY draws a horizontal reference line at y (data units) when it lies within the plot.
func (c *chart) refY(y float64, color, lbl string) {
	p := c.ys.at(y)
	if math.IsNaN(p) || p < c.py-0.5 || p > c.py+c.ph+0.5 {
		return
	}
	c.Refs = append(c.Refs, refLine{Y: f1(p), LY: f1(p - 4), Color: color, Label: lbl})
}

// niceStep rounds v up to 1, 2, 2.5 or 5 × 10^k.
func niceStep(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v*0.999999 {
			return m * p
		}
	}
	return 10 * p
}

// timeTicks returns about n nice tick positions (seconds) over [t0, t1].
func timeTicks(t0, t1 float64, n int) []float64 {
	span := t1 - t0
	if span <= 0 {
		return []float64{t0}
	}
	raw := span / float64(n)
	step := 0.0
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400} {
		if s >= raw {
			step = s
			break
		}
	}
	if step == 0 {
		step = math.Ceil(raw/86400) * 86400
	}
	if raw < 1 {
		step = niceStep(raw)
	}
	var out []float64
	for t := math.Ceil(t0/step) * step; t <= t1+step*1e-9; t += step {
		out = append(out, t)
	}
	return out
}

// fmtSeconds labels a time offset: 45s, 2m, 2m30s, 1h, 1h05m.
func fmtSeconds(sec float64) string {
	if sec != math.Trunc(sec) && math.Abs(sec) < 60 {
		return strconv.FormatFloat(sec, 'f', -1, 64) + "s"
	}
	s := int64(math.Round(sec))
	neg := ""
	if s < 0 {
		neg, s = "-", -s
	}
	h, m, ss := s/3600, s/60%60, s%60
	switch {
	case h > 0 && m == 0:
		return fmt.Sprintf("%s%dh", neg, h)
	case h > 0:
		return fmt.Sprintf("%s%dh%02dm", neg, h, m)
	case m > 0 && ss == 0:
		return fmt.Sprintf("%s%dm", neg, m)
	case m > 0:
		return fmt.Sprintf("%s%dm%02ds", neg, m, ss)
	}
	return fmt.Sprintf("%s%ds", neg, ss)
}

// fmtLatencyTick labels a µs value on an axis: 500µs, 2ms, 1.5s.
func fmtLatencyTick(us float64) string {
	switch {
	case us < 1000:
		return FormatFloat(us) + "µs"
	case us < 1e6:
		return FormatFloat(us/1000) + "ms"
	default:
		return FormatFloat(us/1e6) + "s"
	}
}

// FormatFloat formats v rounded to 3 decimals, without trailing zeros.
func FormatFloat(v float64) string { return strconv.FormatFloat(Round3(v), 'f', -1, 64) }

// fmtCount labels a count or rate compactly: 950, 1.2k, 3.4M.
func fmtCount(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return FormatFloat(math.Round(v/1e7)/100) + "G"
	case a >= 1e6:
		return FormatFloat(math.Round(v/1e4)/100) + "M"
	case a >= 1e4:
		return FormatFloat(math.Round(v/100)/10) + "k"
	case a >= 100:
		return FormatFloat(math.Round(v))
	}
	return FormatFloat(math.Round(v*100) / 100)
}

// fmtBytes formats a byte count with binary units: 512 KiB, 1.5 GiB.
func fmtBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return FormatFloat(v) + " B"
	}
	return FormatFloat(math.Round(v*10)/10) + " " + units[i]
}

func fmtPctTick(v float64) string { return FormatFloat(v) + "%" }
