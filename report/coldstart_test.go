package report

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// synthColdstart is a direct cold-start run of 5 starts: 4 succeeded with totals 100, 110, 120 and
// 400 ms, one failed in load.
func synthColdstart() *ColdstartReport {
	phases := []string{"spawn", "start_stream", "init", "metadata", "load", "first_invocation", ColdPhaseTotal}
	r := NewColdstartReport(ColdstartDirect, phases, "test", map[string]any{"worker": "w", "starts": 5}, Environment{CPUModel: "cpu", Cores: 2},
		5*time.Millisecond)
	r.StartedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	share := func(us int) *time.Duration { d := time.Duration(us) * time.Microsecond; return &d }
	for i, streamMs := range []float64{80, 90, 100, 380, 85} {
		s := &ColdStart{Index: i + 1, Pid: 100 + i, At: r.StartedAt.Add(time.Duration(i) * time.Second)}
		s.Phases = []ColdPhase{
			{Name: "spawn", Dur: ms(1)},
			{Name: "start_stream", Dur: ms(streamMs)},
			{Name: "init", Dur: ms(5), Share: share(50 + 10*i)},
			{Name: "metadata", Dur: ms(3), Share: share(20)},
		}
		if i == 4 {
			s.Failed, s.FailedPhase, s.Reason = true, "load", "load: function echo failed to load: boom"
			r.Add(s)
			continue
		}
		s.Phases = append(s.Phases, ColdPhase{Name: "load", Dur: ms(8), Share: share(30)}, ColdPhase{Name: "first_invocation", Dur: ms(3), Share: share(40)})
		var total time.Duration
		for _, p := range s.Phases {
			total += p.Dur
		}
		s.Phases = append(s.Phases, ColdPhase{Name: ColdPhaseTotal, Dur: total})
		s.Invocations = []time.Duration{ms(3), ms(2), ms(1)}
		s.PeakRSS, s.CPUSeconds = int64(10+i)<<20, 0.01*float64(i+1)
		code := 0
		s.ExitCode = &code
		r.Add(s)
	}
	r.Finish()
	r.EndedAt = r.StartedAt.Add(5 * time.Second)
	return r
}

func TestColdstartReportFigures(t *testing.T) {
	r := synthColdstart()
	if r.Starts != 5 || r.Succeeded != 4 || r.Failed != 1 || r.FailedBy["load"] != 1 {
		t.Fatalf("starts %d succeeded %d failed %d by %v", r.Starts, r.Succeeded, r.Failed, r.FailedBy)
	}
	tot := r.Stats[ColdPhaseTotal]
	near := func(got, want int64) bool { return got >= want-want/1000 && got <= want+want/1000 } // 3 significant digits
	if tot.Count != 4 || !near(tot.Min, 100000) || !near(tot.P50, 110000) || !near(tot.Max, 400000) {
		t.Errorf("total %+v", tot)
	}
	// Succeeded starts only: every phase counts the same 4 starts; shares count every start.
	if r.Stats["init"].Count != 4 || r.FbenchShare["init"].Count != 5 || r.FbenchShare["init"].Max != 90 {
		t.Errorf("init %+v share %+v", r.Stats["init"], r.FbenchShare["init"])
	}
	if r.MedianStart != 2 || !r.Valid {
		t.Errorf("median start %d valid %v", r.MedianStart, r.Valid)
	}
	if len(r.FirstK) != 3 || !near(r.FirstK[2].P50, 1000) || r.Stats[ColdPhaseNextInvocations].Count != 8 {
		t.Errorf("first_k %+v next %+v", r.FirstK, r.Stats[ColdPhaseNextInvocations])
	}
	if r.Resources.PeakRSSMax != 13<<20 || r.Resources.PeakRSSP50 != 11<<20 || r.Resources.CPUMax != 0.04 {
		t.Errorf("resources %+v", r.Resources)
	}
	// fbench's share over its budget makes the run invalid.
	r.ShareBudgetUS = 60
	r.Finish()
	if r.Valid || !strings.Contains(r.InvalidReason, "phase init has p99 90µs, over its budget of 60µs") {
		t.Errorf("valid %v: %s", r.Valid, r.InvalidReason)
	}
}

// coldstartSLOResults are the results of coldstart.total.p99<2s and coldstart.failed==0 on
// synthColdstart's run (report/slo checks that its evaluation gives these).
func coldstartSLOResults() []SLOResult {
	total, failed := 400127.0, 1.0
	return []SLOResult{
		{Expression: "coldstart.total.p99<2s", Metric: "coldstart.total.p99", Op: "<", Threshold: 2e6, Unit: "us", Value: &total, Observed: "400.127ms", Pass: true},
		{Expression: "coldstart.failed==0", Metric: "coldstart.failed", Op: "==", Threshold: 0, Unit: "count", Value: &failed, Observed: "1", Pass: false},
	}
}

func TestColdstartTextGolden(t *testing.T) {
	r := synthColdstart()
	r.SLOs = coldstartSLOResults()
	var b bytes.Buffer
	if err := WriteColdstartText(&b, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "coldstart.txt", b.Bytes())
	b.Reset()
	if err := r.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "coldstart.csv", b.Bytes())
}

// The files round-trip: coldstart.json loads back, the hlog holds one tag per phase with the
// phase's count.
func TestColdstartFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cs")
	r := synthColdstart()
	if err := WriteColdstart(dir, r); err != nil {
		t.Fatal(err)
	}
	back, err := LoadColdstart(filepath.Join(dir, ColdstartFile))
	if err != nil || back.Stats[ColdPhaseTotal] != r.Stats[ColdPhaseTotal] || len(back.Runs) != 5 {
		t.Fatalf("load back: %v", err)
	}
	entries, err := readHlog(t, filepath.Join(dir, ColdstartHlog))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Phases {
		if entries[p] != r.Stats[p].Count {
			t.Errorf("hlog tag %s has %d values, want %d", p, entries[p], r.Stats[p].Count)
		}
	}
	if entries["fbench_share.init"] != 5 {
		t.Errorf("hlog fbench_share.init has %d values", entries["fbench_share.init"])
	}
}

// readHlog decodes an hlog into value counts by tag.
func readHlog(t *testing.T, path string) (map[string]int64, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for i, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "Tag=") {
			continue
		}
		f := strings.Split(line, ",")
		e := hlogEntry{Tag: strings.TrimPrefix(f[0], "Tag="), payload: f[len(f)-1], line: i + 1}
		h, err := e.decode()
		if err != nil {
			return nil, err
		}
		out[e.Tag] = h.TotalCount()
	}
	return out, nil
}

// The cold-start report renders in headless Chromium: the waterfall, the dot plot and the first-K
// curve each drew their series. Set FBENCH_COLDSTART_PNG to keep a screenshot.
func TestColdstartHTMLRendersInChromium(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cs")
	if err := WriteColdstart(dir, synthColdstart()); err != nil {
		t.Fatal(err)
	}
	page := newChromiumPage(t, filepath.Join(dir, HTMLFile))
	dom := page.dom()
	series := regexp.MustCompile(`<(rect|circle|path) class="series"`)
	want := map[string]int{"waterfall": 6, "totals": 4, "first_k": 2} // phases of the median start; succeeded starts; p50 and max
	for chart, n := range want {
		i := strings.Index(dom, `data-chart="`+chart+`"`)
		if i < 0 {
			t.Errorf("rendered DOM has no %s chart", chart)
			continue
		}
		body := dom[i:]
		body = body[:strings.Index(body, "</svg>")]
		if got := len(series.FindAllString(body, -1)); got != n {
			t.Errorf("chart %s drew %d series elements, want %d", chart, got, n)
		}
	}
	for _, text := range []string{"Cold starts: direct", "start 5", "failed to load: boom", "fbench share"} {
		if !strings.Contains(dom, text) {
			t.Errorf("rendered page lacks %q", text)
		}
	}
	page.screenshot("FBENCH_COLDSTART_PNG", "1000,2200")
}
