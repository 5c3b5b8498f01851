package report

import (
	"bytes"
	"html/template"
	"math"
	"strings"
	"unicode/utf8"
)

// Exported chart drawing for pages other than a run's report.html (fbench capacity's
// capacity.html): the same server-side SVG, template and style, over a numeric x axis.

// Series colours of report.html, for XYSeries.Color and XYMark.Color.
const (
	ColorBlue   = colBlue
	ColorGreen  = colGreen
	ColorAmber  = colAmber
	ColorRed    = colRed
	ColorPurple = colPurple
	ColorSlate  = colSlate
)

// PageCSS is report.html's style sheet (tiles, tables, banners, charts), for a self-contained page
// that embeds XYChart.HTML output and wants to look like the run reports.
var PageCSS = func() string {
	s := reportTemplateText
	i := strings.Index(s, "<style>")
	j := strings.Index(s, "</style>")
	if i < 0 || j < i {
		return ""
	}
	return strings.TrimSpace(s[i+len("<style>") : j])
}()

// XYChart is a line chart of y against a numeric x (an offered rate, say), drawn as a <figure> with
// an inline SVG. X starts at 0; Y is a log-scale latency axis (values in µs) when YLatency is set,
// else a linear axis from 0.
type XYChart struct {
	Name     string // element id suffix and data-chart
	Title    string
	Note     string
	XLabel   string
	YLabel   string
	YLatency bool
	Series   []XYSeries
	Marks    []XYMark // vertical markers at an x
	Refs     []XYRef  // horizontal reference lines at a y
}

// XYSeries is one series: points (X[i], Y[i]) joined in the given order. NaN values, and
// non-positive ones on a latency axis, leave a gap.
type XYSeries struct {
	Name   string
	Color  string
	Dash   string // SVG stroke-dasharray, e.g. "4 3"
	X, Y   []float64
	Dots   bool // a hollow dot at every point
	NoLine bool // dots only (with Dots)
}

// XYMark is a labelled vertical marker (an empty Label draws the line and its tooltip only).
type XYMark struct {
	X     float64
	Label string
	Title string // tooltip
	Color string
}

// XYRef is a labelled horizontal reference line.
type XYRef struct {
	Y     float64
	Label string
	Color string
}

// HTML renders the chart as a <figure> holding an inline SVG (no script, no external resource).
func (x *XYChart) HTML() (template.HTML, error) {
	c := newChart(x.Name, x.Title)
	c.Note, c.YLabel, c.XLabel = x.Note, x.YLabel, x.XLabel
	if x.XLabel != "" {
		c.H += 14
	}
	x.setAxes(c)
	x.drawSeries(c)
	x.drawMarks(c)
	for _, r := range x.Refs {
		c.refY(r.Y, r.Color, r.Label)
	}
	if x.XLabel != "" {
		c.Labels = append(c.Labels, label{X: f1(c.px + c.pw/2), Y: f1(float64(c.H) - 4), Anchor: "middle", Text: x.XLabel})
	}
	var buf bytes.Buffer
	if err := reportTemplate.ExecuteTemplate(&buf, "chart", c); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil // #nosec: produced by html/template
}

// extent is the largest x, and the smallest positive and the largest y, over the series' points
// (NaN ones left out), the marks' x and the reference lines' y; minY is +Inf when no y is positive.
func (x *XYChart) extent() (maxX, minY, maxY float64) {
	maxX, minY, maxY = 0.0, math.Inf(1), 0.0
	for _, s := range x.Series {
		for i := range s.X {
			if i >= len(s.Y) || math.IsNaN(s.X[i]) || math.IsNaN(s.Y[i]) {
				continue
			}
			maxX = max(maxX, s.X[i])
			maxY = max(maxY, s.Y[i])
			if s.Y[i] > 0 {
				minY = min(minY, s.Y[i])
			}
		}
	}
	for _, m := range x.Marks {
		maxX = max(maxX, m.X)
	}
	for _, r := range x.Refs {
		maxY = max(maxY, r.Y)
		if r.Y > 0 {
			minY = min(minY, r.Y)
		}
	}
	return maxX, minY, maxY
}

// setAxes sets c's axes to the chart's extent: x from 0 to a round value past the largest x (1 when
// there is none) with round ticks; y log-scale for latencies, else linear from 0.
func (x *XYChart) setAxes(c *chart) {
	maxX, minY, maxY := x.extent()
	if !(maxX > 0) {
		maxX = 1
	}
	step := niceStep(maxX * 1.05 / 8)
	top := math.Ceil(maxX*1.05/step) * step
	var ticks []float64
	for v := 0.0; v <= top*1.0000001; v += step {
		ticks = append(ticks, v)
	}
	c.setX(0, top, ticks, fmtCount)
	if x.YLatency {
		if math.IsInf(minY, 1) {
			minY = 1
		}
		c.setYLog(minY, maxY, fmtLatencyTick)
	} else {
		c.setYLinear(maxY, fmtCount)
	}
}

// drawSeries draws each series as its line, its dots (a hollow circle at every point drawn), or both.
func (x *XYChart) drawSeries(c *chart) {
	for _, s := range x.Series {
		n := min(len(s.X), len(s.Y))
		c.line(s.Name, s.Color, s.Dash, s.X[:n], s.Y[:n])
		sr := &c.Series[len(c.Series)-1]
		if s.NoLine {
			sr.D = ""
		}
		if s.Dots {
			sr.D = dotsPath(c, sr.D, s.X[:n], s.Y[:n])
		}
	}
}

// dotsPath is the SVG path d followed by a hollow 3 px circle at each point (xs[i], ys[i]) that
// lands on the plot.
func dotsPath(c *chart, d string, xs, ys []float64) string {
	var b strings.Builder
	b.WriteString(d)
	for i := range xs {
		px, py := c.xs.at(xs[i]), c.ys.at(ys[i])
		if math.IsNaN(px) || math.IsNaN(py) || math.IsInf(py, 0) {
			continue
		}
		b.WriteString("M" + f1(px-3) + "," + f1(py) + "a3,3 0 1,0 6,0a3,3 0 1,0 -6,0")
	}
	return b.String()
}

// drawMarks draws the vertical markers; in the right part of the plot a label goes left of its line
// (about 6.5 px a character).
func (x *XYChart) drawMarks(c *chart) {
	for _, m := range x.Marks {
		n := len(c.Markers)
		c.markX(m.X, m.Color, m.Label, m.Title)
		if len(c.Markers) > n && m.Label != "" && c.xs.at(m.X) > c.px+0.6*c.pw {
			mk := &c.Markers[n]
			mk.LX = f1(c.xs.at(m.X) - 3 - 6.5*float64(utf8.RuneCountInString(m.Label)))
		}
	}
}
