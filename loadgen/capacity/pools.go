package capacity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fbench/fbench/report"
)

// fbench capacity --processes 1,2,4: one search per pool size, then the sustainable rate against
// the number of processes.

const (
	poolsSchema   = "fbench.capacity-processes/v1"
	PoolsJSONFile = "processes.json"
	PoolsHTMLFile = "processes.html"
)

// PoolSize is one pool size's search as processes.json records it.
type PoolSize struct {
	Processes      int     `json:"processes"`
	Dir            string  `json:"dir"` // its capacity directory, relative to OUT
	Status         string  `json:"status"`
	SustainableRPS float64 `json:"sustainable_rps"` // confirmed (0: none)
	Confirmed      bool    `json:"confirmed"`
	BestPassRPS    float64 `json:"best_pass_rps"`
	BrokeAtRPS     float64 `json:"broke_at_rps,omitempty"`
	BrokeCause     string  `json:"broke_cause,omitempty"`
	PerProcessRPS  float64 `json:"per_process_rps"` // sustainable ÷ processes
	IdealRPS       float64 `json:"ideal_rps"`       // the first size's rate per process × processes
	Efficiency     float64 `json:"efficiency"`      // sustainable ÷ ideal
	ExitCode       int     `json:"exit_code"`
}

// PoolsReport is processes.json.
type PoolsReport struct {
	Schema      string             `json:"schema"`
	Version     string             `json:"fbench_version"`
	StartedAt   time.Time          `json:"started_at"`
	EndedAt     time.Time          `json:"ended_at,omitzero"`
	Target      string             `json:"target"`
	Environment report.Environment `json:"environment"`
	Sizes       []PoolSize         `json:"sizes"`
}

// PoolSearch is the search of one pool size: its setup (its Out under the pools directory) and
// the runner of its steps.
type PoolSearch struct {
	Processes int
	Setup     *Setup
	Runner    StepRunner
}

// Pools runs one search per pool size, one after the other, and writes processes.json and
// processes.html in out. The error is a *CodeError when a search found no rate or was
// interrupted (the first search's code), any other when the reports could not be written.
func Pools(ctx context.Context, out string, searches []PoolSearch, o Output) error {
	first := searches[0].Setup
	rep := &PoolsReport{Schema: poolsSchema, Version: first.Version, StartedAt: time.Now().UTC(), Target: first.Target, Environment: first.Env}
	code, firstErr := 0, error(nil)
	for _, ps := range searches {
		n := ps.Processes
		if !o.Quiet {
			fmt.Fprintf(o.Stdout, "\n== %d worker process(es)\n", n)
		}
		_, serr := ps.Setup.Run(ctx, ps.Runner, o)
		sz := PoolSize{Processes: n, Dir: filepath.Base(ps.Setup.Out)}
		if b, err := os.ReadFile(filepath.Join(ps.Setup.Out, JSONFile)); err == nil {
			var cr Report
			if json.Unmarshal(b, &cr) == nil && cr.Result != nil {
				r := cr.Result
				sz.Status, sz.SustainableRPS, sz.Confirmed, sz.BestPassRPS = r.Status, r.SustainableRPS, r.Confirmed, r.BestPassRPS
				sz.BrokeAtRPS, sz.BrokeCause, sz.ExitCode = r.BrokeAtRPS, r.BrokeCause, r.ExitCode
			}
		}
		var ce *CodeError
		if serr != nil && code == 0 {
			code = ExitError
			if errors.As(serr, &ce) {
				code = ce.Code
			}
			firstErr = fmt.Errorf("%d process(es): %w", n, serr)
		}
		rep.Sizes = append(rep.Sizes, sz)
		poolsIdeal(rep)
		if err := savePools(out, rep); err != nil {
			return fmt.Errorf("writing %s: %w", PoolsJSONFile, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	rep.EndedAt = time.Now().UTC()
	if err := savePools(out, rep); err != nil {
		return fmt.Errorf("writing %s: %w", PoolsJSONFile, err)
	}
	if !o.Quiet {
		printPools(o.Stdout, rep, out)
	}
	if ctx.Err() != nil {
		return &CodeError{Code: ExitInterrupted, Err: errors.New("interrupted; the searches so far are in " + out)}
	}
	if code != 0 {
		return &CodeError{Code: code, Err: firstErr}
	}
	return nil
}

// poolsIdeal fills the ideal line: the first size with a confirmed rate gives the rate per process.
func poolsIdeal(rep *PoolsReport) {
	per := 0.0
	for _, sz := range rep.Sizes {
		if sz.Confirmed && sz.SustainableRPS > 0 {
			per = sz.SustainableRPS / float64(sz.Processes)
			break
		}
	}
	for i := range rep.Sizes {
		sz := &rep.Sizes[i]
		sz.PerProcessRPS = round2(sz.SustainableRPS / float64(sz.Processes))
		sz.IdealRPS = round2(per * float64(sz.Processes))
		sz.Efficiency = 0
		if sz.IdealRPS > 0 {
			sz.Efficiency = round2(sz.SustainableRPS / sz.IdealRPS)
		}
	}
}

// PoolsHeader heads the table of sustainable rates by pool size.
const PoolsHeader = "processes  sustainable  per process      ideal  efficiency  broke at  cause"

func poolsRow(sz PoolSize) string {
	sus := "none"
	if sz.Confirmed {
		sus = FormatRate(sz.SustainableRPS) + "/s"
	}
	broke := "-"
	if sz.BrokeAtRPS > 0 {
		broke = FormatRate(sz.BrokeAtRPS) + "/s"
	}
	return fmt.Sprintf("%9d  %11s  %11s  %9s  %9.0f%%  %8s  %s", sz.Processes, sus, FormatRate(sz.PerProcessRPS)+"/s",
		FormatRate(sz.IdealRPS)+"/s", 100*sz.Efficiency, broke, sz.BrokeCause)
}

func printPools(w io.Writer, rep *PoolsReport, out string) {
	fmt.Fprintf(w, "\nsustainable rate by worker processes (%s)\n%s\n", rep.Target, PoolsHeader)
	for _, sz := range rep.Sizes {
		fmt.Fprintln(w, poolsRow(sz))
	}
	fmt.Fprintf(w, "reports: %s, %s (each search in %s)\n", filepath.Join(out, PoolsJSONFile), filepath.Join(out, PoolsHTMLFile), filepath.Join(out, "processes-N"))
}

var poolsTemplate = template.Must(template.Must(template.New("pools").Funcs(template.FuncMap{"mul100": func(v float64) float64 { return 100 * v }}).Parse(pageHead)).Parse(`{{template "head" .}}<body>
<main>
<header>
<h1>fbench capacity by worker processes</h1>
<p class="sub">{{.R.Target}} · started {{.Started}} · fbench {{.R.Version}}{{with .R.Environment.Hostname}} · host {{.}}{{end}} · {{.R.Environment.Cores}} cores</p>
</header>
{{.Chart}}
<table><thead><tr><th class="n">Processes</th><th class="n">Sustainable</th><th class="n">Per process</th><th class="n">Ideal (linear)</th><th class="n">Efficiency</th><th class="n">Broke at</th><th>Cause</th><th>Search</th></tr></thead><tbody>
{{range .R.Sizes}}<tr{{if not .Confirmed}} class="warn"{{end}}><td class="n">{{.Processes}}</td><td class="n">{{if .Confirmed}}{{.SustainableRPS}}/s{{else}}none{{end}}</td><td class="n">{{.PerProcessRPS}}/s</td><td class="n">{{.IdealRPS}}/s</td><td class="n">{{printf "%.0f" (mul100 .Efficiency)}}%</td><td class="n">{{if .BrokeAtRPS}}{{.BrokeAtRPS}}/s{{else}}–{{end}}</td><td>{{.BrokeCause}}</td><td><a href="{{.Dir}}/capacity.html">{{.Dir}}</a></td></tr>
{{end}}</tbody></table>
<footer>Each size is a full capacity search (climb, bisect, confirm) with a fresh pool of worker processes per step. The ideal line is the first size's sustainable rate per process times the number of processes.</footer>
</main>
</body>
</html>
`))

func savePools(out string, rep *PoolsReport) error {
	if err := WriteJSON(filepath.Join(out, PoolsJSONFile), rep); err != nil {
		return err
	}
	var xs, ys, ideal []float64
	for _, sz := range rep.Sizes {
		xs = append(xs, float64(sz.Processes))
		ys = append(ys, sz.SustainableRPS)
		ideal = append(ideal, sz.IdealRPS)
	}
	ch := &report.XYChart{Name: "processes", Title: "Sustainable rate against worker processes", XLabel: "worker processes",
		YLabel: "sustainable rate (invocations/s)",
		Series: []report.XYSeries{
			{Name: "sustainable (confirmed)", Color: report.ColorBlue, X: xs, Y: ys, Dots: true},
			{Name: "ideal (linear)", Color: report.ColorSlate, Dash: "4 3", X: append([]float64{0}, xs...), Y: append([]float64{0}, ideal...)},
		}}
	chart, err := ch.HTML()
	if err != nil {
		return err
	}
	d := struct {
		R       *PoolsReport
		Title   string
		CSS     template.CSS
		Started string
		Chart   template.HTML
	}{R: rep, Title: "fbench capacity by worker processes", CSS: template.CSS(report.PageCSS), Started: rep.StartedAt.Format("2006-01-02 15:04:05 MST"), Chart: chart}
	var buf bytes.Buffer
	if err := poolsTemplate.Execute(&buf, d); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(out, PoolsHTMLFile), buf.Bytes())
}
