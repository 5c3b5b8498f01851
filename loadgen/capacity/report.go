package capacity

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fbench/fbench/report"
)

// Report is capacity.json.
type Report struct {
	Schema      string             `json:"schema"`
	Version     string             `json:"fbench_version"`
	StartedAt   time.Time          `json:"started_at"`
	EndedAt     time.Time          `json:"ended_at,omitzero"`
	Target      string             `json:"target"`
	Objectives  []string           `json:"objectives"`
	P99LimitUS  int64              `json:"p99_limit_us,omitempty"` // the built-in p99 bound in force at the end
	Config      map[string]any     `json:"config"`
	Environment report.Environment `json:"environment"`
	Steps       []*Step            `json:"steps"`
	Result      *Result            `json:"result,omitempty"` // nil while the search runs
}

// save writes capacity.json and capacity.html as they stand.
func (s *Setup) save(rep *Report) error {
	rep.Objectives = s.Objectives()
	if s.obj != nil {
		rep.P99LimitUS = s.obj.LimitUS()
	}
	err := WriteJSON(filepath.Join(s.Out, JSONFile), rep)
	if herr := WriteHTML(filepath.Join(s.Out, HTMLFile), rep); err == nil {
		err = herr
	}
	return err
}

// TableHeader heads the step table.
const TableHeader = "   #  stage       rate   achieved      p50      p99   in flight  verdict"

// TableRow is a step's line in the step table.
func TableRow(st *Step) string {
	verdict := "pass"
	if !st.Pass {
		verdict = "FAIL " + st.Cause + ": " + strings.Join(st.Reasons, "; ")
	}
	return fmt.Sprintf("%4d  %-8s %7s %10s %8s %8s %11s  %s", st.N, st.Stage, FormatRate(st.Rate), FormatRate(math.Round(st.AchievedRPS*10)/10),
		fmtUS(st.P50US), fmtUS(st.P99US), fmt.Sprintf("%d→%d", st.InFlightStart, st.InFlightEnd), verdict)
}

// PrintResult prints a finished search's result and where its reports are.
func PrintResult(w io.Writer, rep *Report, out string) {
	r := rep.Result
	fmt.Fprintln(w)
	switch {
	case r.Confirmed:
		fmt.Fprintf(w, "sustainable: %s/s (confirmed)\n", FormatRate(r.SustainableRPS))
	case r.BestPassRPS > 0:
		fmt.Fprintf(w, "sustainable: none confirmed (best passing step %s/s)\n", FormatRate(r.BestPassRPS))
	default:
		fmt.Fprintln(w, "sustainable: none")
	}
	switch {
	case r.BrokeAtRPS > 0:
		fmt.Fprintf(w, "broke at:    %s/s (step %d) — %s: %s\n", FormatRate(r.BrokeAtRPS), r.BrokeStep, r.BrokeCause, r.BrokeReason)
	case r.MaxRateReached:
		fmt.Fprintln(w, "broke at:    never, up to --max-rate")
	}
	fmt.Fprintf(w, "result:      %s\n", r.Message)
	fmt.Fprintf(w, "reports:     %s, %s (steps in %s)\n", filepath.Join(out, JSONFile), filepath.Join(out, HTMLFile), filepath.Join(out, "steps"))
}

// WriteJSON writes v, indented, to path atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(b, '\n'))
}

// writeAtomic writes b to path through a temporary file, so a reader never sees half a file.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
