package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/report"
)

// fbench capacity --processes 1,2,4: one search per pool size, then the sustainable rate against
// the number of processes.

const (
	capPoolsSchema   = "fbench.capacity-processes/v1"
	capPoolsJSONFile = "processes.json"
	capPoolsHTMLFile = "processes.html"
)

// capPoolSize is one pool size's search as processes.json records it.
type capPoolSize struct {
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

// capPoolsReport is processes.json.
type capPoolsReport struct {
	Schema      string             `json:"schema"`
	Version     string             `json:"fbench_version"`
	StartedAt   time.Time          `json:"started_at"`
	EndedAt     time.Time          `json:"ended_at,omitzero"`
	Target      string             `json:"target"`
	Environment report.Environment `json:"environment"`
	Sizes       []capPoolSize      `json:"sizes"`
}

// capacityPools runs a capacity search per pool size of --processes.
func capacityPools(c *capacityFlags, fs *pflag.FlagSet, stdout, stderr io.Writer) error {
	opt, err := c.workerFlags.options(fs.Args())
	if err != nil {
		return err
	}
	cmd, err := host.Resolve(opt.Launch, 1, "check", "check")
	if err != nil {
		return err
	}
	pr, err := host.ResolveProcesses(cmd.Config, cmd.Env, runtime.NumCPU())
	if err != nil {
		return err
	}
	sizes, err := runner.ParseProcessList(c.processes, pr.Max)
	if err != nil {
		return err
	}
	out := c.out
	if out == "" {
		out = filepath.Join("fbench-results", "capacity-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	if err := checkOutDir(out); err != nil {
		return err
	}
	// Every size's flags are validated before the first search starts.
	setups := make([]*capSetup, len(sizes))
	flags := make([]capacityFlags, len(sizes))
	for i, n := range sizes {
		flags[i] = *c
		flags[i].processes = strconv.Itoa(n)
		flags[i].out = filepath.Join(out, fmt.Sprintf("processes-%d", n))
		if setups[i], err = flags[i].setup(fs); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := &capPoolsReport{Schema: capPoolsSchema, Version: version, StartedAt: time.Now().UTC(), Target: setups[0].target, Environment: environment()}
	code, firstErr := 0, error(nil)
	for i, n := range sizes {
		if !c.quiet {
			fmt.Fprintf(stdout, "\n== %d worker process(es)\n", n)
		}
		serr := setups[i].execute(ctx, &flags[i], fs, stdout, stderr)
		sz := capPoolSize{Processes: n, Dir: filepath.Base(flags[i].out)}
		if b, err := os.ReadFile(filepath.Join(flags[i].out, capJSONFile)); err == nil {
			var cr capReport
			if json.Unmarshal(b, &cr) == nil && cr.Result != nil {
				r := cr.Result
				sz.Status, sz.SustainableRPS, sz.Confirmed, sz.BestPassRPS = r.Status, r.SustainableRPS, r.Confirmed, r.BestPassRPS
				sz.BrokeAtRPS, sz.BrokeCause, sz.ExitCode = r.BrokeAtRPS, r.BrokeCause, r.ExitCode
			}
		}
		var ce *codeError
		if serr != nil && code == 0 {
			code, firstErr = exitError, serr
			if errors.As(serr, &ce) {
				code = ce.code
			}
			firstErr = fmt.Errorf("%d process(es): %w", n, serr)
		}
		rep.Sizes = append(rep.Sizes, sz)
		capPoolsIdeal(rep)
		if err := capPoolsSave(out, rep); err != nil {
			return fmt.Errorf("writing %s: %w", capPoolsJSONFile, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	rep.EndedAt = time.Now().UTC()
	if err := capPoolsSave(out, rep); err != nil {
		return fmt.Errorf("writing %s: %w", capPoolsJSONFile, err)
	}
	if !c.quiet {
		capPoolsPrint(stdout, rep, out)
	}
	if ctx.Err() != nil {
		return withCode(130, errors.New("interrupted; the searches so far are in "+out))
	}
	if code != 0 {
		return withCode(code, firstErr)
	}
	return nil
}

// capPoolsIdeal fills the ideal line: the first size with a confirmed rate gives the rate per process.
func capPoolsIdeal(rep *capPoolsReport) {
	per := 0.0
	for _, sz := range rep.Sizes {
		if sz.Confirmed && sz.SustainableRPS > 0 {
			per = sz.SustainableRPS / float64(sz.Processes)
			break
		}
	}
	for i := range rep.Sizes {
		sz := &rep.Sizes[i]
		sz.PerProcessRPS = capRound2(sz.SustainableRPS / float64(sz.Processes))
		sz.IdealRPS = capRound2(per * float64(sz.Processes))
		sz.Efficiency = 0
		if sz.IdealRPS > 0 {
			sz.Efficiency = capRound2(sz.SustainableRPS / sz.IdealRPS)
		}
	}
}

const capPoolsHeader = "processes  sustainable  per process      ideal  efficiency  broke at  cause"

func capPoolsRow(sz capPoolSize) string {
	sus := "none"
	if sz.Confirmed {
		sus = capFmtRate(sz.SustainableRPS) + "/s"
	}
	broke := "-"
	if sz.BrokeAtRPS > 0 {
		broke = capFmtRate(sz.BrokeAtRPS) + "/s"
	}
	return fmt.Sprintf("%9d  %11s  %11s  %9s  %9.0f%%  %8s  %s", sz.Processes, sus, capFmtRate(sz.PerProcessRPS)+"/s",
		capFmtRate(sz.IdealRPS)+"/s", 100*sz.Efficiency, broke, sz.BrokeCause)
}

func capPoolsPrint(w io.Writer, rep *capPoolsReport, out string) {
	fmt.Fprintf(w, "\nsustainable rate by worker processes (%s)\n%s\n", rep.Target, capPoolsHeader)
	for _, sz := range rep.Sizes {
		fmt.Fprintln(w, capPoolsRow(sz))
	}
	fmt.Fprintf(w, "reports: %s, %s (each search in %s)\n", filepath.Join(out, capPoolsJSONFile), filepath.Join(out, capPoolsHTMLFile), filepath.Join(out, "processes-N"))
}

var capPoolsTemplate = template.Must(template.New("pools").Funcs(template.FuncMap{"mul100": func(v float64) float64 { return 100 * v }}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="fbench {{.R.Version}}">
<title>fbench capacity by worker processes – {{.Started}}</title>
<style>
{{.CSS}}
</style>
</head>
<body>
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

func capPoolsSave(out string, rep *capPoolsReport) error {
	if err := capWriteJSON(filepath.Join(out, capPoolsJSONFile), rep); err != nil {
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
		R       *capPoolsReport
		CSS     template.CSS
		Started string
		Chart   template.HTML
	}{R: rep, CSS: template.CSS(report.PageCSS), Started: rep.StartedAt.Format("2006-01-02 15:04:05 MST"), Chart: chart}
	var buf bytes.Buffer
	if err := capPoolsTemplate.Execute(&buf, d); err != nil {
		return err
	}
	return capWriteAtomic(filepath.Join(out, capPoolsHTMLFile), buf.Bytes())
}
