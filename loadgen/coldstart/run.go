package coldstart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/report"
	"github.com/fbench/fbench/report/slo"
)

// Plan is a cold-start run: Count fresh starts one after the other, recorded in Out.
type Plan struct {
	Config  Config
	Count   int
	Pause   time.Duration // between one start's end and the next start
	SLOs    []slo.Objective
	Out     string
	Budget  time.Duration  // fbench's share of a phase, at the p99, above which the run is invalid
	Record  map[string]any // the run's configuration, as coldstart.json records it
	Version string
	Env     report.Environment
}

// Check validates the plan's settings; given says whether a flag was given (the placeholder's
// own need Placeholder).
func (p *Plan) Check(given func(flag string) bool) error {
	c := &p.Config
	switch {
	case p.Count < 1:
		return fmt.Errorf("invalid -n %d: at least one start", p.Count)
	case p.Pause < 0 || c.SpecializeAfter < 0 || c.ReloadTimeout < 0:
		return errors.New("invalid --pause, --specialize-after or --reload-timeout: must not be negative")
	case c.Invocations < 0:
		return fmt.Errorf("invalid --invocations %d: must not be negative", c.Invocations)
	case c.Timeout <= 0:
		return fmt.Errorf("invalid --timeout %s: must be positive", c.Timeout)
	case p.Budget < 0:
		return fmt.Errorf("invalid --share-budget %s: must not be negative", p.Budget)
	}
	if !c.Placeholder {
		for _, name := range []string{"warmup-request", "specialize-after", "standby-dir", "reload-timeout"} {
			if given(name) {
				return fmt.Errorf("--%s needs --placeholder", name)
			}
		}
	}
	return nil
}

// Resolve checks, before anything starts, that the plan's worker (Config.Host) can be launched, and
// defaults Out to fbench-results/<UTC time>-coldstart.
func (p *Plan) Resolve() error {
	if _, err := host.Resolve(p.Config.Host.Launch, 1, "check", "check"); err != nil {
		return err
	}
	if p.Out == "" {
		p.Out = filepath.Join("fbench-results", time.Now().UTC().Format("20060102T150405Z")+"-coldstart")
	}
	return nil
}

// SetRecord sets the configuration coldstart.json records: extra (what the caller knows of the
// launch and its command line), the plan's settings and the objectives' expressions.
func (p *Plan) SetRecord(extra map[string]any, sloExprs []string) {
	c := &p.Config
	p.Record = extra
	for k, v := range map[string]any{
		"starts": p.Count, "pause": p.Pause.String(), "function": c.Function, "invocations": c.Invocations,
		"timeout": c.Timeout.String(), "body_bytes": len(c.Payload.Body), "placeholder": c.Placeholder,
		"worker": c.Host.Launch.Worker, "worker_args": c.Host.Launch.Args, "indexing": string(c.Host.Indexing),
		"share_budget": p.Budget.String(), "slo": sloExprs,
	} {
		p.Record[k] = v
	}
	if c.Placeholder {
		p.Record["standby_dir"] = c.StandbyDir
		p.Record["warmup_request"] = c.WarmupRequest
		p.Record["specialize_after"] = c.SpecializeAfter.String()
	}
}

// Mode is the kind of start and Phases its phases, in time order.
func (p *Plan) Mode() (string, []string) {
	if p.Config.Placeholder {
		return report.ColdstartPlaceholder, PlaceholderPhases
	}
	return report.ColdstartDirect, DirectPhases
}

// Printer says what a run does: Progress lines (each start) and notices (what the reports
// record as notices too).
type Printer struct {
	Progress func(msg string)
	Notice   func(msg string)
}

// Outcome is a finished run: its report (written to the run directory), and why it stopped
// before the count when the worker or the input made every further start pointless.
type Outcome struct {
	Report   *report.ColdstartReport
	Rejected string // the worker does not support placeholder specialization
	Unknown  string // the function to invoke does not exist
}

// Run makes the plan's starts one after the other, then writes coldstart.json, coldstart.csv,
// coldstart.hlog, report.html and worker.log in p.Out. An interrupt ends the starts (the one cut
// short is not recorded) and is said in the report. A start that fails is recorded and the next
// one goes on.
func Run(ctx context.Context, p Plan, pr Printer) (*Outcome, error) {
	if err := os.MkdirAll(p.Out, 0o755); err != nil {
		return nil, fmt.Errorf("creating the run directory: %w", err)
	}
	logFile, err := os.OpenFile(filepath.Join(p.Out, "worker.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("creating the worker log: %w", err)
	}
	defer logFile.Close()
	p.Config.Host.Log = logFile
	srv, err := host.NewServer()
	if err != nil {
		return nil, err
	}
	defer srv.Close()

	mode, phases := p.Mode()
	out := &Outcome{Report: report.NewColdstartReport(mode, phases, p.Version, p.Record, p.Env, p.Budget)}
	rep := out.Report
	notice := func(msg string) {
		rep.Notices = append(rep.Notices, msg)
		pr.Notice(msg)
	}
	pr.Progress(fmt.Sprintf("%d %s cold starts of %s; writing %s", p.Count, mode, p.Config.Host.Launch.Worker, p.Out))
	out.starts(ctx, p, srv, logFile, pr.Progress, notice)
	if ctx.Err() != nil {
		rep.Interrupted = "signal"
	}
	if out.Rejected != "" {
		rep.Notices = append(rep.Notices, oneLine(out.Rejected)+"; no further start was made")
	}
	if n := srv.Refused(); n > 0 {
		notice(fmt.Sprintf("%d EventStream(s) refused: not opened by a worker fbench launched, or a second one", n))
	}
	rep.Finish()
	slo.EvaluateColdstart(rep, p.SLOs)
	if err := report.WriteColdstart(p.Out, rep); err != nil {
		return out, fmt.Errorf("writing reports: %w", err)
	}
	return out, nil
}

// starts makes the starts, until the count, an interrupt, or a failure every start would repeat.
func (out *Outcome) starts(ctx context.Context, p Plan, srv *host.Server, log io.Writer, progress, notice func(string)) {
	rep := out.Report
	warmupNoted := false
	for i := 1; i <= p.Count; i++ {
		if i > 1 && p.Pause > 0 {
			select {
			case <-time.After(p.Pause):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			return
		}
		fmt.Fprintf(log, "=== fbench: start %d ===\n", i)
		st, err := Measure(ctx, srv, p.Config, i)
		if err != nil {
			return // interrupted: the start cut short is no failure of the worker's, and not recorded
		}
		rep.Add(st)
		if st.Failed {
			progress(fmt.Sprintf("start %d/%d failed in %s: %s", i, p.Count, st.FailedPhase, oneLine(st.Reason)))
			if st.FailedPhase == PhaseSpecialize && strings.Contains(st.Reason, "does not support placeholder specialization") {
				out.Rejected = st.Reason
				return
			}
			if strings.Contains(st.Reason, "unknown function") {
				out.Unknown = st.Reason // bad input: every start would fail the same way
				return
			}
			continue
		}
		if p.Config.Placeholder && p.Config.WarmupRequest && st.Warmup == "not advertised" && !warmupNoted {
			warmupNoted = true
			notice("--warmup-request: the worker does not advertise HandlesWorkerWarmupMessage, so no WorkerWarmupRequest is sent (as the host would not send one)")
		}
		head, _ := st.Phase(rep.Headline())
		progress(fmt.Sprintf("start %d/%d: %s %s", i, p.Count, rep.Headline(), report.FormatDuration(head.Dur)))
	}
}

// Err is why a finished run ended without its starts: the worker refused specialization, or the
// function asked for does not exist ("" when neither).
func (out *Outcome) Err() error {
	switch {
	case out.Rejected != "":
		return errors.New(oneLine(out.Rejected))
	case out.Unknown != "":
		return fmt.Errorf("--function: %s", strings.TrimPrefix(oneLine(out.Unknown), "invocation: "))
	}
	return nil
}

// Verdict says how a finished run fared.
type Verdict int

const (
	Pass      Verdict = iota // the starts succeeded, within the budget, and every objective held
	NoStart                  // no start was made, or none succeeded
	Invalid                  // fbench's share of a phase was over its budget
	SLOFailed                // an objective failed
)

// Judge is the verdict of a finished run, and what it says when it is not Pass.
func Judge(rep *report.ColdstartReport) (Verdict, error) {
	switch {
	case len(rep.Runs) == 0:
		return NoStart, errors.New("no start was made")
	case rep.Succeeded == 0:
		return NoStart, fmt.Errorf("no start succeeded (%d failed; first: %s)", rep.Failed, oneLine(rep.Runs[0].Reason))
	case !rep.Valid:
		return Invalid, fmt.Errorf("run invalid: %s", rep.InvalidReason)
	}
	var failed []string
	for _, r := range rep.SLOs {
		if !r.Pass {
			failed = append(failed, fmt.Sprintf("%s (observed %s)", r.Expression, r.Observed))
		}
	}
	if len(failed) > 0 {
		return SLOFailed, fmt.Errorf("%d of %d SLOs failed: %s", len(failed), len(rep.SLOs), strings.Join(failed, "; "))
	}
	return Pass, nil
}

// IsRunDir reports whether dir holds a cold-start run.
func IsRunDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, report.ColdstartFile))
	return err == nil
}

// Rebuild rebuilds a cold-start directory's files from its coldstart.json and checks its
// objectives again: the recorded ones, or exprs when replace is set.
func Rebuild(dir string, exprs []string, replace bool) (*report.ColdstartReport, error) {
	rep, err := report.LoadColdstart(filepath.Join(dir, report.ColdstartFile))
	if err != nil {
		return nil, err
	}
	if !replace {
		if list, ok := rep.Config["slo"].([]any); ok {
			for _, e := range list {
				if s, ok := e.(string); ok {
					exprs = append(exprs, s)
				}
			}
		}
	}
	slos, err := slo.ParseColdstartAll(exprs)
	if err != nil {
		return nil, err
	}
	ended := rep.EndedAt
	rep.Finish()
	rep.EndedAt = ended
	slo.EvaluateColdstart(rep, slos)
	if err := report.WriteColdstart(dir, rep); err != nil {
		return nil, fmt.Errorf("writing reports: %w", err)
	}
	return rep, nil
}

// oneLine folds a multi-line reason into one line.
func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ") }
