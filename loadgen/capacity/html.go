package capacity

import (
	"bytes"
	"encoding/json"
	"html/template"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fbench/fbench/report"
)

// capacity.html: one self-contained page (no script, no external resource) with the knee chart
// (latency against offered load), achieved against offered, and the step table.

// pageHead is the head of the package's pages: their data has R (with its Version), Title, Started
// and CSS.
const pageHead = `{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="fbench {{.R.Version}}">
<title>{{.Title}} – {{.Started}}</title>
<style>
{{.CSS}}
</style>
</head>
{{end}}`

var htmlTemplate = template.Must(template.Must(template.New("capacity").Parse(pageHead)).Parse(`{{template "head" .}}<body>
<main>
<header>
<h1>fbench capacity</h1>
<p class="sub">{{.R.Target}} · started {{.Started}} · fbench {{.R.Version}}{{with .R.Environment.Hostname}} · host {{.}}{{end}}</p>
</header>
{{with .R.Result}}<div class="banner {{$.BannerClass}}"><strong>{{$.Headline}}</strong> {{.Message}}</div>{{else}}<div class="banner warn"><strong>Search in progress or cut short:</strong> no result yet.</div>{{end}}
<section class="tiles">{{range .Tiles}}<div class="tile {{.Class}}"><div class="k">{{.K}}</div><div class="v">{{.V}}</div></div>{{end}}</section>
<h2>Latency against offered load</h2>
{{range .Charts}}{{.}}
{{end}}
<h2>Steps</h2>
<table><thead><tr><th class="n">#</th><th>Stage</th><th class="n">Rate</th><th class="n">Achieved</th><th class="n">rtt p50</th><th class="n">rtt p99</th><th class="n">lag p99</th><th class="n">In flight</th><th>Verdict</th><th>Run</th></tr></thead><tbody>
{{range .Rows}}<tr{{if not .Pass}} class="warn"{{end}}><td class="n">{{.N}}</td><td>{{.Stage}}</td><td class="n">{{.Rate}}/s</td><td class="n">{{.Achieved}}/s</td><td class="n">{{.P50}}</td><td class="n">{{.P99}}</td><td class="n">{{.Lag}}</td><td class="n">{{.InFlight}}</td>{{if .Pass}}<td class="pass">pass</td>{{else}}<td class="fail">{{.Cause}}: {{.Reasons}}</td>{{end}}<td><a href="{{.Link}}">report</a></td></tr>
{{end}}</tbody></table>
<h2>Objectives and checks</h2>
<ul>{{range .R.Objectives}}<li class="mono">{{.}}</li>{{end}}
<li>achieved rate ≥ {{.MinAchieved}} of offered; in flight at the end of a step ≤ 2 × at its start (or ≤ max(16, 20 ms of arrivals)); no invocation timed out, dropped or never answered; lag p99 within the lag budget (else the harness is the limit)</li></ul>
<h2>Configuration</h2>
<table class="narrow"><tbody>{{range .Config}}<tr><th>{{.K}}</th><td class="mono">{{.V}}</td></tr>{{end}}</tbody></table>
<footer>Every step is a full fbench run with its own report.html under steps/. Latencies are rtt: response − intended send time.</footer>
</main>
</body>
</html>
`))

type kv struct{ K, V, Class string }

type htmlRow struct {
	N                                    int
	Stage, Rate, Achieved, P50, P99, Lag string
	InFlight, Cause, Reasons, Link       string
	Pass                                 bool
}

// WriteHTML writes capacity.html for rep to path atomically.
func WriteHTML(path string, rep *Report) error {
	d := struct {
		R                     *Report
		Title                 string
		CSS                   template.CSS
		Started               string
		BannerClass, Headline string
		Tiles                 []kv
		Charts                []template.HTML
		Rows                  []htmlRow
		MinAchieved           string
		Config                []kv
	}{R: rep, Title: "fbench capacity", CSS: template.CSS(report.PageCSS), Started: rep.StartedAt.Format("2006-01-02 15:04:05 MST"),
		MinAchieved: FormatRate(100*MinAchieved) + "%"}

	if r := rep.Result; r != nil {
		d.BannerClass, d.Headline = "bad", "No sustainable rate."
		switch {
		case r.Confirmed:
			d.BannerClass, d.Headline = "info", "Sustainable: "+FormatRate(r.SustainableRPS)+"/s."
		case r.Status == HarnessLimit:
			d.Headline = "The harness was the limit."
		case r.Status == Crashed:
			d.Headline = "The worker crashed."
		}
		sus := "none"
		if r.Confirmed {
			sus = FormatRate(r.SustainableRPS) + "/s"
		} else if r.BestPassRPS > 0 {
			sus = "≥ " + FormatRate(r.BestPassRPS) + "/s?"
		}
		d.Tiles = append(d.Tiles, kv{K: "Sustainable", V: sus, Class: classIf(!r.Confirmed, "bad")})
		if r.BrokeAtRPS > 0 {
			d.Tiles = append(d.Tiles, kv{K: "Broke at · " + r.BrokeCause, V: FormatRate(r.BrokeAtRPS) + "/s"})
		} else if r.MaxRateReached {
			d.Tiles = append(d.Tiles, kv{K: "Broke at", V: "never"})
		}
	}
	total := 0.0
	for _, st := range rep.Steps {
		total += st.ElapsedS
	}
	d.Tiles = append(d.Tiles, kv{K: "Steps", V: FormatRate(float64(len(rep.Steps)))}, kv{K: "Search time", V: fmtDur(time.Duration(total * float64(time.Second)))})
	if rep.P99LimitUS > 0 {
		d.Tiles = append(d.Tiles, kv{K: "p99 objective", V: fmtUS(rep.P99LimitUS)})
	}

	for _, st := range rep.Steps {
		row := htmlRow{N: st.N, Stage: st.Stage, Rate: FormatRate(st.Rate), Achieved: FormatRate(math.Round(st.AchievedRPS*10) / 10),
			P50: fmtUS(st.P50US), P99: fmtUS(st.P99US), Lag: fmtUS(st.LagP99US), Pass: st.Pass, Cause: st.Cause,
			Reasons: strings.Join(st.Reasons, "; "), Link: filepath.ToSlash(filepath.Join(st.Dir, report.HTMLFile)),
			InFlight: FormatRate(float64(st.InFlightStart)) + " → " + FormatRate(float64(st.InFlightEnd))}
		d.Rows = append(d.Rows, row)
	}
	charts, err := charts(rep)
	if err != nil {
		return err
	}
	d.Charts = charts
	keys := make([]string, 0, len(rep.Config))
	for k := range rep.Config {
		if k != "step_config" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.Config = append(d.Config, kv{K: k, V: fmtAny(rep.Config[k])})
	}
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, d); err != nil {
		return err
	}
	return writeAtomic(path, buf.Bytes())
}

func classIf(c bool, class string) string {
	if c {
		return class
	}
	return ""
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return strings.Join(x, " ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// charts draws the knee chart (rtt p50 and p99 against the offered rate, log scale) and
// achieved against offered. At a rate stepped more than once, the last step stands.
func charts(rep *Report) ([]template.HTML, error) {
	if len(rep.Steps) == 0 {
		return nil, nil
	}
	last := map[float64]*Step{}
	for _, st := range rep.Steps {
		last[st.Rate] = st
	}
	rates := make([]float64, 0, len(last))
	for r := range last {
		rates = append(rates, r)
	}
	sort.Float64s(rates)
	var p50, p99, ach, failX, failY []float64
	for _, r := range rates {
		st := last[r]
		p50 = append(p50, float64(st.P50US))
		p99 = append(p99, float64(st.P99US))
		ach = append(ach, st.AchievedRPS)
		if !st.Pass {
			failX, failY = append(failX, r), append(failY, float64(st.P99US))
		}
	}
	// The knee: one label for both marks (they are usually a few percent apart), on the sustainable one.
	var marks []report.XYMark
	if r := rep.Result; r != nil {
		broke := report.XYMark{X: r.BrokeAtRPS, Title: "broke at " + FormatRate(r.BrokeAtRPS) + "/s: " + r.BrokeCause + ": " + r.BrokeReason, Color: report.ColorRed}
		switch {
		case r.Confirmed:
			lbl := "sustainable " + FormatRate(r.SustainableRPS) + "/s"
			if r.BrokeAtRPS > 0 {
				lbl += " · broke " + FormatRate(r.BrokeAtRPS) + "/s"
			}
			marks = append(marks, report.XYMark{X: r.SustainableRPS, Label: lbl, Title: "the knee: the highest rate confirmed", Color: report.ColorGreen})
		case r.BrokeAtRPS > 0:
			broke.Label = "broke " + FormatRate(r.BrokeAtRPS) + "/s"
		}
		if r.BrokeAtRPS > 0 {
			marks = append(marks, broke)
		}
	}
	lat := &report.XYChart{Name: "knee", Title: "rtt latency against offered rate (log scale)", XLabel: "offered rate (invocations/s)",
		YLabel: "rtt (log)", YLatency: true, Marks: marks,
		Note: "One point per rate (the last step at that rate). Red dots: steps that failed.",
		Series: []report.XYSeries{
			{Name: "p50", Color: report.ColorBlue, X: rates, Y: p50, Dots: true},
			{Name: "p99", Color: report.ColorAmber, X: rates, Y: p99, Dots: true},
			{Name: "failed step (p99)", Color: report.ColorRed, X: failX, Y: failY, Dots: true, NoLine: true},
		}}
	if rep.P99LimitUS > 0 {
		lat.Refs = append(lat.Refs, report.XYRef{Y: float64(rep.P99LimitUS), Label: "p99 objective " + fmtUS(rep.P99LimitUS), Color: report.ColorRed})
	}
	top := rates[len(rates)-1]
	thr := &report.XYChart{Name: "throughput", Title: "Achieved against offered rate", XLabel: "offered rate (invocations/s)",
		YLabel: "achieved (responses/s)", Marks: marks,
		Series: []report.XYSeries{
			{Name: "achieved", Color: report.ColorBlue, X: rates, Y: ach, Dots: true},
			{Name: "offered (ideal)", Color: report.ColorSlate, Dash: "4 3", X: []float64{0, top}, Y: []float64{0, top}},
		}}
	var out []template.HTML
	for _, c := range []*report.XYChart{lat, thr} {
		h, err := c.HTML()
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}
