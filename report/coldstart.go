package report

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Cold starts: fbench coldstart's record of N fresh worker starts, each timed phase by phase, and
// the files made from it: coldstart.json, coldstart.csv, coldstart.hlog (one tag per phase) and
// report.html.

// ColdstartSchema identifies the layout of coldstart.json.
const ColdstartSchema = "fbench.coldstart/v1"

// Files of a cold-start directory.
const (
	ColdstartFile = "coldstart.json"
	ColdstartCSV  = "coldstart.csv"
	ColdstartHlog = "coldstart.hlog"
)

// Cold-start modes.
const (
	ColdstartDirect      = "direct"
	ColdstartPlaceholder = "placeholder"
)

// Cold-start phase totals: the headline of each mode.
const (
	ColdPhaseTotal                = "total"
	ColdPhaseTotalAfterSpecialize = "total_after_specialize"
	ColdPhaseNextInvocations      = "next_invocations"
)

// ColdPhaseNames are the phases a cold-start run can measure.
var ColdPhaseNames = []string{"spawn", "start_stream", "init", "placeholder_ready", "warmup", "specialize", "metadata", "load",
	"first_invocation", ColdPhaseTotal, ColdPhaseTotalAfterSpecialize, ColdPhaseNextInvocations}

// ColdPhase is one measured phase of a start. Phases are contiguous: each runs from the end of the
// one before it (the worker's answer that ended it) to the worker's answer that ends it; the
// totals span several.
type ColdPhase struct {
	Name string        `json:"name"`
	Dur  time.Duration `json:"duration_ns"`
	// Share is fbench's own part of the phase: from the worker's previous message to fbench's
	// request that starts this phase (its Send returned). Nil when no worker message precedes
	// the phase (spawn, specialize, function.json discovery, the totals).
	Share  *time.Duration `json:"fbench_share_ns,omitempty"`
	Detail string         `json:"detail,omitempty"`
}

// ColdStart is one measured start.
type ColdStart struct {
	Index       int             `json:"index"` // from 1
	Pid         int             `json:"pid"`
	At          time.Time       `json:"at"`
	Phases      []ColdPhase     `json:"phases"`
	Invocations []time.Duration `json:"invocations_ns,omitempty"` // the first, then each of --invocations K: request → response
	Failed      bool            `json:"failed"`
	FailedPhase string          `json:"failed_phase,omitempty"`
	Reason      string          `json:"reason,omitempty"`
	// Worker resources: peak RSS (the process's VmHWM, or its tree's RSS at the first answer if
	// larger) and CPU seconds of the process tree up to the first answer (/proc, 10 ms ticks).
	PeakRSS    int64   `json:"peak_rss_bytes,omitempty"`
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	// Placeholder starts: the warm-up ("sent", "failed: …", "not advertised", "off") and how the
	// reload's capabilities were applied ("merge: 10 → 10", "replace: 10 → 8").
	Warmup       string `json:"warmup,omitempty"`
	Capabilities string `json:"capabilities_update,omitempty"`
	ExitCode     *int   `json:"exit_code,omitempty"`
}

// Phase returns the named phase and whether the start has it.
func (s *ColdStart) Phase(name string) (ColdPhase, bool) {
	for _, p := range s.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return ColdPhase{}, false
}

// ColdFirstK is the latency of the i-th invocation of a start (1 = the first) across starts.
type ColdFirstK struct {
	Invocation int   `json:"invocation"`
	Count      int64 `json:"count"`
	P50        int64 `json:"p50_us"`
	P90        int64 `json:"p90_us"`
	Max        int64 `json:"max_us"`
}

// ColdResources summarises the worker's resources per start.
type ColdResources struct {
	PeakRSSP50 int64   `json:"peak_rss_p50_bytes"`
	PeakRSSMax int64   `json:"peak_rss_max_bytes"`
	CPUP50     float64 `json:"cpu_seconds_p50"`
	CPUMax     float64 `json:"cpu_seconds_max"`
}

// ColdstartReport is coldstart.json.
type ColdstartReport struct {
	Schema      string         `json:"schema"`
	Version     string         `json:"fbench_version"`
	Mode        string         `json:"mode"` // direct or placeholder
	StartedAt   time.Time      `json:"started_at"`
	EndedAt     time.Time      `json:"ended_at"`
	Config      map[string]any `json:"config"`
	Environment Environment    `json:"environment"`
	Interrupted string         `json:"interrupted,omitempty"`

	Starts    int            `json:"starts"`
	Succeeded int            `json:"succeeded"`
	Failed    int            `json:"failed"`
	FailedBy  map[string]int `json:"failed_by_phase"`
	// Phases in time order, the mode's total last; Stats per phase (µs) over the starts that
	// succeeded, so every phase counts the same starts.
	Phases []string         `json:"phases"`
	Stats  map[string]Stats `json:"stats"`
	// FbenchShare per phase (µs) over every start: fbench's own time between a worker's message
	// and its answer. ShareBudgetUS: a p99 over it makes the run invalid.
	FbenchShare   map[string]Stats `json:"fbench_share"`
	ShareBudgetUS int64            `json:"share_budget_us"`
	Valid         bool             `json:"valid"`
	InvalidReason string           `json:"invalid_reason,omitempty"`
	FirstK        []ColdFirstK     `json:"first_k,omitempty"`
	Resources     ColdResources    `json:"resources"`
	MedianStart   int              `json:"median_start,omitempty"` // the index of the start whose headline total is the median
	Notices       []string         `json:"notices"`
	SLOs          []SLOResult      `json:"slos"`
	Runs          []*ColdStart     `json:"runs"`
}

// Headline is the mode's total phase: total, or total_after_specialize for placeholder starts.
func (r *ColdstartReport) Headline() string {
	if r.Mode == ColdstartPlaceholder {
		return ColdPhaseTotalAfterSpecialize
	}
	return ColdPhaseTotal
}

// NewColdstartReport starts a report of a run in mode with phases (in time order, total last).
func NewColdstartReport(mode string, phases []string, version string, config map[string]any, env Environment, shareBudget time.Duration) *ColdstartReport {
	return &ColdstartReport{Schema: ColdstartSchema, Version: version, Mode: mode, StartedAt: time.Now().UTC(),
		Config: config, Environment: env, Phases: phases, ShareBudgetUS: shareBudget.Microseconds(),
		FailedBy: map[string]int{}, Stats: map[string]Stats{}, FbenchShare: map[string]Stats{}, Notices: []string{}, SLOs: []SLOResult{}}
}

// Add records one start.
func (r *ColdstartReport) Add(s *ColdStart) { r.Runs = append(r.Runs, s) }

// PhaseMicros is a phase's duration d in whole µs, at least 1 (the histograms' lowest value), as
// cold-start reports record it.
func PhaseMicros(d time.Duration) int64 { return max(1, d.Microseconds()) }

// histograms are the phase histograms over the succeeded starts, the next invocations among them.
func (r *ColdstartReport) histograms() (phases, shares map[string]*hdrhistogram.Histogram) {
	phases, shares = map[string]*hdrhistogram.Histogram{}, map[string]*hdrhistogram.Histogram{}
	hist := func(m map[string]*hdrhistogram.Histogram, name string) *hdrhistogram.Histogram {
		h := m[name]
		if h == nil {
			h = NewHistogram()
			m[name] = h
		}
		return h
	}
	for _, s := range r.Runs {
		for _, p := range s.Phases {
			if p.Share != nil {
				_ = hist(shares, p.Name).RecordValue(max(0, p.Share.Microseconds()))
			}
			if !s.Failed {
				_ = hist(phases, p.Name).RecordValue(PhaseMicros(p.Dur))
			}
		}
		if !s.Failed && len(s.Invocations) > 1 {
			for _, d := range s.Invocations[1:] {
				_ = hist(phases, ColdPhaseNextInvocations).RecordValue(PhaseMicros(d))
			}
		}
	}
	return phases, shares
}

// Finish computes the summary figures from the recorded starts.
func (r *ColdstartReport) Finish() {
	r.EndedAt = time.Now().UTC()
	r.Starts, r.Succeeded, r.Failed = len(r.Runs), 0, 0
	r.FailedBy = map[string]int{}
	var rss []int64
	var cpu []float64
	for _, s := range r.Runs {
		if s.Failed {
			r.Failed++
			r.FailedBy[s.FailedPhase]++
			continue
		}
		r.Succeeded++
		if s.PeakRSS > 0 {
			rss = append(rss, s.PeakRSS)
		}
		cpu = append(cpu, s.CPUSeconds)
	}
	phases, shares := r.histograms()
	r.Stats, r.FbenchShare = map[string]Stats{}, map[string]Stats{}
	for name, h := range phases {
		r.Stats[name] = StatsOf(h)
	}
	for name, h := range shares {
		r.FbenchShare[name] = StatsOf(h)
	}
	if phases[ColdPhaseNextInvocations] != nil && !slices.Contains(r.Phases, ColdPhaseNextInvocations) {
		r.Phases = append(r.Phases, ColdPhaseNextInvocations)
	}
	r.Valid, r.InvalidReason = true, ""
	for _, name := range r.Phases {
		if st, ok := r.FbenchShare[name]; ok && r.ShareBudgetUS > 0 && st.P99 > r.ShareBudgetUS {
			r.Valid = false
			r.InvalidReason = fmt.Sprintf("fbench's own share of phase %s has p99 %s, over its budget of %s: the harness, not the worker, took that time",
				name, fmtMicros(st.P99), fmtMicros(r.ShareBudgetUS))
			break
		}
	}
	// The first-K curve.
	r.FirstK = nil
	for i := 0; ; i++ {
		h := NewHistogram()
		for _, s := range r.Runs {
			if !s.Failed && i < len(s.Invocations) {
				_ = h.RecordValue(PhaseMicros(s.Invocations[i]))
			}
		}
		if h.TotalCount() == 0 {
			break
		}
		st := StatsOf(h)
		r.FirstK = append(r.FirstK, ColdFirstK{Invocation: i + 1, Count: st.Count, P50: st.P50, P90: st.P90, Max: st.Max})
	}
	if len(r.FirstK) < 2 {
		r.FirstK = nil // one invocation per start: the first_invocation phase says it all
	}
	r.Resources = ColdResources{}
	if len(rss) > 0 {
		slices.Sort(rss)
		r.Resources.PeakRSSP50, r.Resources.PeakRSSMax = rss[(len(rss)-1)/2], rss[len(rss)-1]
	}
	if len(cpu) > 0 {
		slices.Sort(cpu)
		r.Resources.CPUP50, r.Resources.CPUMax = cpu[(len(cpu)-1)/2], cpu[len(cpu)-1]
	}
	r.MedianStart = r.medianStart()
}

// medianStart is the index of the succeeded start whose headline total is the (lower) median.
func (r *ColdstartReport) medianStart() int {
	type st struct {
		index int
		d     time.Duration
	}
	var all []st
	for _, s := range r.Runs {
		if p, ok := s.Phase(r.Headline()); ok && !s.Failed {
			all = append(all, st{s.Index, p.Dur})
		}
	}
	if len(all) == 0 {
		return 0
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].d < all[j].d })
	return all[(len(all)-1)/2].index
}

// Start returns the start with the given index, or nil.
func (r *ColdstartReport) Start(index int) *ColdStart {
	for _, s := range r.Runs {
		if s.Index == index {
			return s
		}
	}
	return nil
}

// WriteColdstart writes coldstart.json, coldstart.csv, coldstart.hlog and report.html into dir,
// each through a temporary file and a rename.
func WriteColdstart(dir string, r *ColdstartReport) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return errors.Join(
		writeFileAtomic(filepath.Join(dir, ColdstartFile), func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			return enc.Encode(r)
		}),
		writeFileAtomic(filepath.Join(dir, ColdstartCSV), r.WriteCSV),
		writeFileAtomic(filepath.Join(dir, ColdstartHlog), r.WriteHlog),
		writeFileAtomic(filepath.Join(dir, HTMLFile), r.WriteHTML),
	)
}

// LoadColdstart reads a coldstart.json.
func LoadColdstart(path string) (*ColdstartReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r ColdstartReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Schema != ColdstartSchema {
		return nil, fmt.Errorf("%s: schema %q, want %s", path, r.Schema, ColdstartSchema)
	}
	return &r, nil
}

// WriteCSV writes coldstart.csv: one row per start, phase durations and fbench's shares in µs.
func (r *ColdstartReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"index", "pid", "at", "failed", "failed_phase", "reason"}
	for _, p := range r.Phases {
		if p == ColdPhaseNextInvocations {
			continue
		}
		head = append(head, p+"_us")
	}
	for _, p := range r.Phases {
		if hasShare(p) {
			head = append(head, p+"_fbench_share_us")
		}
	}
	head = append(head, "next_invocations_p50_us", "peak_rss_bytes", "cpu_seconds", "warmup", "capabilities_update", "exit_code")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, s := range r.Runs {
		row := []string{strconv.Itoa(s.Index), strconv.Itoa(s.Pid), s.At.Format(time.RFC3339Nano), strconv.FormatBool(s.Failed), s.FailedPhase, s.Reason}
		shares := []string{}
		for _, name := range r.Phases {
			if name == ColdPhaseNextInvocations {
				continue
			}
			p, ok := s.Phase(name)
			cell, share := "", ""
			if ok {
				cell = strconv.FormatInt(p.Dur.Microseconds(), 10)
				if p.Share != nil {
					share = strconv.FormatInt(p.Share.Microseconds(), 10)
				}
			}
			row = append(row, cell)
			if hasShare(name) {
				shares = append(shares, share)
			}
		}
		row = append(row, shares...)
		next := ""
		if len(s.Invocations) > 1 {
			v := slices.Clone(s.Invocations[1:])
			slices.Sort(v)
			next = strconv.FormatInt(v[(len(v)-1)/2].Microseconds(), 10)
		}
		exit := ""
		if s.ExitCode != nil {
			exit = strconv.Itoa(*s.ExitCode)
		}
		row = append(row, next, strconv.FormatInt(s.PeakRSS, 10), strconv.FormatFloat(s.CPUSeconds, 'f', 3, 64), s.Warmup, s.Capabilities, exit)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteHlog writes coldstart.hlog: one interval per phase (the tag), spanning the run, with that
// phase's durations over the succeeded starts (µs), then fbench's share per phase (tag
// fbench_share.PHASE).
func (r *ColdstartReport) WriteHlog(w io.Writer) error {
	if err := writeHlogHeader(w, r.StartedAt, r.Version); err != nil {
		return err
	}
	phases, shares := r.histograms()
	length := r.EndedAt.Sub(r.StartedAt)
	var b []byte
	var err error
	var enc hlogEncoder
	for _, name := range r.Phases {
		if h := phases[name]; h != nil {
			if b, err = enc.appendLine(b, name, 0, length, h); err != nil {
				return err
			}
		}
	}
	for _, name := range r.Phases {
		if h := shares[name]; h != nil {
			if b, err = enc.appendLine(b, "fbench_share."+name, 0, length, h); err != nil {
				return err
			}
		}
	}
	_, err = w.Write(b)
	return err
}

// WriteColdstartText writes the terminal summary: the per-phase table, failures, fbench's share,
// resources and the SLOs.
func WriteColdstartText(w io.Writer, r *ColdstartReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Cold starts (%s): %d started, %d succeeded, %d failed\n", r.Mode, r.Starts, r.Succeeded, r.Failed)
	fmt.Fprintf(&b, "%-24s %10s %10s %10s %10s %10s %10s   %s\n", "phase", "min", "p50", "p90", "p99", "max", "n", "fbench share p50 / max")
	for _, name := range r.Phases {
		st, ok := r.Stats[name]
		if !ok {
			continue
		}
		share := "-"
		if sh, ok := r.FbenchShare[name]; ok && sh.Count > 0 {
			share = fmtMicros(sh.P50) + " / " + fmtMicros(sh.Max)
		}
		fmt.Fprintf(&b, "%-24s %10s %10s %10s %10s %10s %10d   %s\n", name, fmtMicros(st.Min), fmtMicros(st.P50), fmtMicros(st.P90),
			fmtMicros(st.P99), fmtMicros(st.Max), st.Count, share)
	}
	if len(r.FirstK) > 0 {
		fmt.Fprintf(&b, "first %d invocations, p50:", len(r.FirstK))
		for _, k := range r.FirstK {
			fmt.Fprintf(&b, " %s", fmtMicros(k.P50))
		}
		b.WriteByte('\n')
	}
	if r.Resources.PeakRSSMax > 0 {
		fmt.Fprintf(&b, "worker peak RSS p50 %.1f MiB, max %.1f MiB; CPU to the first answer p50 %.3f s, max %.3f s\n",
			float64(r.Resources.PeakRSSP50)/(1<<20), float64(r.Resources.PeakRSSMax)/(1<<20), r.Resources.CPUP50, r.Resources.CPUMax)
	}
	if sh, ok := r.maxShare(); ok {
		fmt.Fprintf(&b, "fbench's own share per phase: at most %s (p99 %s, budget %s)\n", fmtMicros(sh.Max), fmtMicros(sh.P99), fmtMicros(r.ShareBudgetUS))
	}
	if !r.Valid {
		fmt.Fprintf(&b, "INVALID: %s\n", r.InvalidReason)
	}
	for _, s := range r.Runs {
		if s.Failed {
			fmt.Fprintf(&b, "start %d failed in %s: %s\n", s.Index, s.FailedPhase, oneLine(s.Reason))
		}
	}
	for _, n := range r.Notices {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, s := range r.SLOs {
		verdict := "PASS"
		if !s.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "SLO %-32s %s (observed %s)\n", s.Expression, verdict, s.Observed)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// maxShare is the phase share stats with the largest max.
func (r *ColdstartReport) maxShare() (Stats, bool) {
	var out Stats
	ok := false
	for _, st := range r.FbenchShare {
		if st.Count > 0 && (!ok || st.Max > out.Max) {
			out, ok = st, true
		}
	}
	if ok {
		p99 := int64(0)
		for _, st := range r.FbenchShare {
			p99 = max(p99, st.P99)
		}
		out.P99 = p99
	}
	return out, ok
}

// hasShare reports whether a phase starts with fbench answering a worker's message, so that
// fbench's share of it is measured: not the process start, the wait for StartStream, the
// specialization (the host starts it on its own time) or the totals.
func hasShare(phase string) bool {
	switch phase {
	case "spawn", "start_stream", "specialize", ColdPhaseTotal, ColdPhaseTotalAfterSpecialize, ColdPhaseNextInvocations:
		return false
	}
	return true
}
