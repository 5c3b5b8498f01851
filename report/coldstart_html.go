package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// report.html of a cold-start run: self-contained (inline SVG drawn here, no script), with the
// waterfall of the median start, the per-phase percentile table, each start's headline total as a
// dot plot, the first-K invocation curve, and the failed starts.

// phaseColors colour the phases of the waterfall (cycled).
var phaseColors = []string{"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#e15759", "#9c755f"}

type coldHTMLRow struct {
	Name                    string
	Min, P50, P90, P99, Max string
	N                       int64
	ShareP50, ShareMax      string
	Headline                bool
}

type coldHTMLData struct {
	R         *ColdstartReport
	Headline  string
	HeadStats Stats
	Rows      []coldHTMLRow
	Waterfall template.HTML
	Dots      template.HTML
	FirstK    template.HTML
	Failed    []*ColdStart
	Share     string
	Config    string
}

// WriteHTML writes report.html.
func (r *ColdstartReport) WriteHTML(w io.Writer) error {
	d := coldHTMLData{R: r, Headline: r.Headline(), HeadStats: r.Stats[r.Headline()]}
	for _, name := range r.Phases {
		st, ok := r.Stats[name]
		if !ok {
			continue
		}
		row := coldHTMLRow{Name: name, Min: fmtMicros(st.Min), P50: fmtMicros(st.P50), P90: fmtMicros(st.P90), P99: fmtMicros(st.P99),
			Max: fmtMicros(st.Max), N: st.Count, ShareP50: "–", ShareMax: "–", Headline: name == r.Headline()}
		if sh, ok := r.FbenchShare[name]; ok && sh.Count > 0 {
			row.ShareP50, row.ShareMax = fmtMicros(sh.P50), fmtMicros(sh.Max)
		}
		d.Rows = append(d.Rows, row)
	}
	if sh, ok := r.maxShare(); ok {
		d.Share = fmt.Sprintf("fbench's own share of any phase (from a worker's message to fbench's answer): at most %s, p99 %s; budget %s.",
			fmtMicros(sh.Max), fmtMicros(sh.P99), fmtMicros(r.ShareBudgetUS))
	}
	d.Waterfall = template.HTML(r.waterfallSVG())
	d.Dots = template.HTML(r.dotsSVG())
	if len(r.FirstK) > 1 {
		d.FirstK = template.HTML(r.firstKSVG())
	}
	for _, s := range r.Runs {
		if s.Failed {
			d.Failed = append(d.Failed, s)
		}
	}
	var cfg []string
	for _, k := range []string{"worker", "app", "function", "starts", "pause", "invocations", "specialize_after", "warmup_request"} {
		if v, ok := r.Config[k]; ok && fmt.Sprint(v) != "" {
			cfg = append(cfg, fmt.Sprintf("%s=%v", k, v))
		}
	}
	d.Config = strings.Join(cfg, " · ")
	return coldTemplate.Execute(w, d)
}

const (
	svgW, svgLeft, svgRight = 900.0, 170.0, 30.0
)

// waterfallSVG draws the median start: one bar per phase from its start offset, fbench's share
// darker at its beginning.
func (r *ColdstartReport) waterfallSVG() string {
	s := r.Start(r.MedianStart)
	if s == nil {
		return `<p class="note">No start succeeded: no waterfall.</p>`
	}
	var bars []ColdPhase
	for _, p := range s.Phases {
		if p.Name != ColdPhaseTotal && p.Name != ColdPhaseTotalAfterSpecialize {
			bars = append(bars, p)
		}
	}
	// Placeholder starts wait --specialize-after between warm-up and specialization: the
	// waterfall leaves the wait out and says so.
	var total time.Duration
	for _, p := range bars {
		total += p.Dur
	}
	if total <= 0 {
		total = 1
	}
	rowH := 26.0
	h := rowH*float64(len(bars)) + 50
	plotW := svgW - svgLeft - svgRight
	x := func(d time.Duration) float64 { return svgLeft + plotW*float64(d)/float64(total) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" data-chart="waterfall" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="phases of the median start">`, svgW, h, svgW, h)
	var at time.Duration
	for i, p := range bars {
		y := 10 + rowH*float64(i)
		x0, x1 := x(at), x(at+p.Dur)
		color := phaseColors[i%len(phaseColors)]
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="end" class="lbl">%s</text>`, svgLeft-8, y+16, template.HTMLEscapeString(p.Name))
		fmt.Fprintf(&b, `<rect class="series" data-phase="%s" x="%.2f" y="%g" width="%.2f" height="%g" fill="%s"><title>%s: %s</title></rect>`,
			template.HTMLEscapeString(p.Name), x0, y+4, math.Max(1, x1-x0), rowH-8, color, template.HTMLEscapeString(p.Name), fmtDuration(p.Dur))
		// A phase's share opens it, except placeholder_ready's: it follows that phase's StartStream.
		if p.Share != nil && *p.Share > 0 && p.Name != "placeholder_ready" {
			fmt.Fprintf(&b, `<rect class="share" x="%.2f" y="%g" width="%.2f" height="%g" fill="#222"><title>fbench's share: %s</title></rect>`,
				x0, y+4, math.Max(0.5, x(at+*p.Share)-x0), rowH-8, fmtDuration(*p.Share))
		}
		if x1+50 < svgW {
			fmt.Fprintf(&b, `<text x="%.2f" y="%g" class="val">%s</text>`, x1+4, y+16, fmtDuration(p.Dur))
		} else { // no room on the right: the label goes left of the bar
			fmt.Fprintf(&b, `<text x="%.2f" y="%g" text-anchor="end" class="val">%s</text>`, x0-4, y+16, fmtDuration(p.Dur))
		}
		at += p.Dur
	}
	fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%g" y2="%g" class="axis"/>`, svgLeft, svgW-svgRight, h-32, h-32)
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="lbl">0</text><text x="%g" y="%g" text-anchor="end" class="lbl">%s</text>`,
		svgLeft, h-16, svgW-svgRight, h-16, fmtDuration(total))
	b.WriteString(`</svg>`)
	return b.String()
}

// dotsSVG draws each start's headline total against its index; failed starts are marked at the
// bottom with the phase they failed in.
func (r *ColdstartReport) dotsSVG() string {
	var maxD time.Duration
	for _, s := range r.Runs {
		if p, ok := s.Phase(r.Headline()); ok && !s.Failed {
			maxD = max(maxD, p.Dur)
		}
	}
	if maxD <= 0 {
		maxD = time.Millisecond
	}
	h, top, bottom := 260.0, 15.0, 40.0
	plotW, plotH := svgW-svgLeft-svgRight, h-top-bottom
	n := max(1, len(r.Runs))
	x := func(i int) float64 { return svgLeft + plotW*(float64(i)-0.5)/float64(n) }
	y := func(d time.Duration) float64 { return top + plotH*(1-float64(d)/float64(maxD)) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" data-chart="totals" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s of each start">`, svgW, h, svgW, h, r.Headline())
	for _, frac := range []float64{0, 0.5, 1} {
		d := time.Duration(frac * float64(maxD))
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.2f" y2="%.2f" class="grid"/><text x="%g" y="%.2f" text-anchor="end" class="lbl">%s</text>`,
			svgLeft, svgW-svgRight, y(d), y(d), svgLeft-8, y(d)+4, fmtDuration(d))
	}
	if p50 := r.Stats[r.Headline()].P50; p50 > 0 {
		py := y(time.Duration(p50) * time.Microsecond)
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.2f" y2="%.2f" class="median"/><text x="%g" y="%.2f" class="lbl">p50</text>`, svgLeft, svgW-svgRight, py, py, svgW-svgRight+2, py+4)
	}
	for _, s := range r.Runs {
		if s.Failed {
			fmt.Fprintf(&b, `<text class="failed" x="%.2f" y="%g" text-anchor="middle">✕<title>start %d failed in %s</title></text>`, x(s.Index), h-bottom+14, s.Index, template.HTMLEscapeString(s.FailedPhase))
			continue
		}
		if p, ok := s.Phase(r.Headline()); ok {
			fmt.Fprintf(&b, `<circle class="series" cx="%.2f" cy="%.2f" r="4"><title>start %d: %s</title></circle>`, x(s.Index), y(p.Dur), s.Index, fmtDuration(p.Dur))
		}
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="lbl">start 1</text><text x="%g" y="%g" text-anchor="end" class="lbl">start %d</text>`,
		svgLeft, h-6, svgW-svgRight, h-6, len(r.Runs))
	b.WriteString(`</svg>`)
	return b.String()
}

// firstKSVG draws the p50 and max latency of the i-th invocation of a start.
func (r *ColdstartReport) firstKSVG() string {
	var maxV int64 = 1
	for _, k := range r.FirstK {
		maxV = max(maxV, k.Max)
	}
	h, top, bottom := 220.0, 15.0, 35.0
	plotW, plotH := svgW-svgLeft-svgRight, h-top-bottom
	n := len(r.FirstK)
	x := func(i int) float64 { return svgLeft + plotW*float64(i)/float64(max(1, n-1)) }
	y := func(v int64) float64 { return top + plotH*(1-float64(v)/float64(maxV)) }
	path := func(get func(ColdFirstK) int64) string {
		var p strings.Builder
		for i, k := range r.FirstK {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&p, "%s%.2f,%.2f", cmd, x(i), y(get(k)))
		}
		return p.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" data-chart="first_k" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="latency of the first invocations">`, svgW, h, svgW, h)
	for _, v := range []int64{0, maxV / 2, maxV} {
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.2f" y2="%.2f" class="grid"/><text x="%g" y="%.2f" text-anchor="end" class="lbl">%s</text>`,
			svgLeft, svgW-svgRight, y(v), y(v), svgLeft-8, y(v)+4, fmtMicros(v))
	}
	fmt.Fprintf(&b, `<path class="series" d="%s" fill="none" stroke="#4e79a7" stroke-width="2"><title>p50</title></path>`, path(func(k ColdFirstK) int64 { return k.P50 }))
	fmt.Fprintf(&b, `<path class="series" d="%s" fill="none" stroke="#e15759" stroke-width="1.5" stroke-dasharray="4 3"><title>max</title></path>`, path(func(k ColdFirstK) int64 { return k.Max }))
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="lbl">invocation 1</text><text x="%g" y="%g" text-anchor="end" class="lbl">invocation %d</text>`,
		svgLeft, h-8, svgW-svgRight, h-8, n)
	b.WriteString(`</svg>`)
	return b.String()
}

// fmtDuration formats a duration with 3 significant figures, in µs below a microsecond too (a
// phase's share of 0.5µs reads beside the others' µs).
func fmtDuration(d time.Duration) string {
	if d < time.Microsecond {
		return fmt.Sprintf("%.3gµs", float64(d)/1e3)
	}
	return FormatDuration(d)
}

var coldTemplate = template.Must(template.New("coldstart").Funcs(template.FuncMap{
	"us":  fmtMicros,
	"mib": func(b int64) float64 { return float64(b) / (1 << 20) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>fbench cold starts</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}tr.headline td{font-weight:600}
.lbl{font-size:11px;fill:#555}.val{font-size:11px;fill:#222}.axis,.grid{stroke:#ccc}.median{stroke:#999;stroke-dasharray:4 3}
circle.series{fill:#4e79a7;fill-opacity:.75}.failed{fill:#e15759;font-size:14px}.note{color:#555}.bad{color:#b00;font-weight:600}
</style></head><body>
<h1>Cold starts: {{.R.Mode}}</h1>
<p>{{.R.Starts}} starts, {{.R.Succeeded}} succeeded, {{if .R.Failed}}<span class="bad">{{.R.Failed}} failed</span>{{else}}0 failed{{end}};
{{.Headline}} p50 <b>{{us .HeadStats.P50}}</b>, p99 <b>{{us .HeadStats.P99}}</b> (max {{us .HeadStats.Max}}).
{{if .R.Interrupted}}<span class="bad">Interrupted: only the starts measured are here.</span>{{end}}</p>
{{if not .R.Valid}}<p class="bad">Invalid: {{.R.InvalidReason}}</p>{{end}}
<p class="note">{{.Config}} · fbench {{.R.Version}} · {{.R.Environment.CPUModel}} × {{.R.Environment.Cores}} cores · {{.R.StartedAt.Format "2006-01-02 15:04:05 UTC"}}</p>
{{if .R.SLOs}}<h2>Objectives</h2><table><tr><th>SLO</th><th>observed</th><th>result</th></tr>
{{range .R.SLOs}}<tr><td>{{.Expression}}</td><td>{{.Observed}}</td><td>{{if .Pass}}pass{{else}}<span class="bad">FAIL</span>{{end}}</td></tr>{{end}}</table>{{end}}
<h2>The median start (start {{.R.MedianStart}}), phase by phase</h2>
<p class="note">Each bar runs from the worker's answer that ended the phase before to the answer that ends it; the dark part at its start is fbench's own share (from the worker's message to fbench's request).{{if eq .R.Mode "placeholder"}} The standby wait before specialization is left out.{{end}}</p>
{{.Waterfall}}
<h2>Phases over the succeeded starts</h2>
<table><tr><th>phase</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>n</th><th>fbench share p50</th><th>max</th></tr>
{{range .Rows}}<tr{{if .Headline}} class="headline"{{end}}><td>{{.Name}}</td><td>{{.Min}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td><td>{{.Max}}</td><td>{{.N}}</td><td>{{.ShareP50}}</td><td>{{.ShareMax}}</td></tr>
{{end}}</table>
<p class="note">{{.Share}}{{if .R.Resources.PeakRSSMax}} Worker peak RSS p50 {{printf "%.1f" (mib .R.Resources.PeakRSSP50)}} MiB, max {{printf "%.1f" (mib .R.Resources.PeakRSSMax)}} MiB; CPU to the first answer p50 {{printf "%.3f" .R.Resources.CPUP50}} s, max {{printf "%.3f" .R.Resources.CPUMax}} s.{{end}}</p>
<h2>{{.Headline}} of each start</h2>
{{.Dots}}
{{if .FirstK}}<h2>The first invocations of a start (p50, and max dashed)</h2>{{.FirstK}}{{end}}
{{if .Failed}}<h2>Failed starts</h2><table><tr><th>start</th><th>phase</th><th>reason</th></tr>
{{range .Failed}}<tr><td>{{.Index}}</td><td>{{.FailedPhase}}</td><td style="text-align:left">{{.Reason}}</td></tr>{{end}}</table>{{end}}
{{if .R.Notices}}<h2>Notes</h2><ul>{{range .R.Notices}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))
