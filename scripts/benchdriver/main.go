package main

import (
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

type rawResult struct {
	InvPerS         float64 `json:"invocations_per_s"`
	HostCPUUsPerInv float64 `json:"host_cpu_us_per_inv"`
	WorkerCPUUsInv  float64 `json:"worker_cpu_us_per_inv"`
	LagP99Us        int64   `json:"lag_p99_us,omitempty"` // paced runs
	HostCores       float64 `json:"host_cpu_cores,omitempty"`
	HostSwitches    float64 `json:"host_switches_per_inv,omitempty"`
}

// footprint is one rate's row: fbench's CPU per invocation beside the paced raw sender's.
type footprint struct {
	Rate           float64 `json:"rate"`
	FbenchUsPerInv float64 `json:"fbench_us_per_inv"`
	RawUsPerInv    float64 `json:"raw_us_per_inv"`
	Ratio          float64 `json:"ratio"` // median over the pairs of fbench ÷ raw
	FbenchLagP99   int64   `json:"lag_p99_us"`
	RawLagP99      int64   `json:"raw_lag_p99_us"`
	FbenchCPUPct   float64 `json:"fbench_cpu_pct"` // percent of one core
	RawCPUPct      float64 `json:"raw_cpu_pct"`
	FbenchAchieved float64 `json:"fbench_achieved_rps"`
	RawAchieved    float64 `json:"raw_achieved_rps"`
	RawSwitches    float64 `json:"raw_switches_per_inv"` // the paced raw sender's context switches per invocation
}

type latency struct {
	P50 int64 `json:"p50_us"`
	P99 int64 `json:"p99_us"`
	Max int64 `json:"max_us"`
}

type summary struct {
	OfferedRPS  float64            `json:"offered_rps"`
	AchievedRPS float64            `json:"achieved_rps"`
	DurationS   float64            `json:"duration_s"`
	Latency     map[string]latency `json:"latency"`
	Counts      struct {
		Sent int64 `json:"sent"`
		Lost int64 `json:"lost"`
	} `json:"counts"`
	Harness struct {
		CPUSeconds         float64 `json:"cpu_seconds"`
		Valid              bool    `json:"valid"`
		CPUUsPerInvocation float64 `json:"cpu_us_per_invocation"`
		MeanCPUPct         float64 `json:"mean_cpu_pct"`
		WorkerMeanCPUPct   float64 `json:"worker_mean_cpu_pct"`
	} `json:"harness"`
}

// cpuPerInv is fbench's CPU per invocation over the measured window (the summary's footprint),
// or over its whole life when the window was not sampled.
func (s *summary) cpuPerInv() float64 {
	if s.Harness.CPUUsPerInvocation > 0 {
		return s.Harness.CPUUsPerInvocation
	}
	if s.Counts.Sent > 0 {
		return s.Harness.CPUSeconds * 1e6 / float64(s.Counts.Sent)
	}
	return 0
}

// workerPerInv is the worker's CPU per invocation over the measured window.
func (s *summary) workerPerInv() float64 {
	if s.Counts.Sent == 0 {
		return 0
	}
	return s.Harness.WorkerMeanCPUPct / 100 * s.DurationS * 1e6 / float64(s.Counts.Sent)
}

type accuracy struct {
	Offered     float64 `json:"offered_rps"`
	Achieved    float64 `json:"achieved_rps"`
	AchievedPct float64 `json:"achieved_pct_of_offered"`
	Lag         latency `json:"lag"`
	HarnessLag  latency `json:"harness_lag"`
	Valid       bool    `json:"valid"`
	Realtime    bool    `json:"realtime_sender"`
	HTTPProxy   bool    `json:"http_proxy"`       // the reference worker in HTTP proxying mode (--ref http=proxy)
	Processes   int     `json:"worker_processes"` // reference worker processes (--processes)
	// CPUUsPerInv is fbench's CPU per invocation at this rate (summary.cpuPerInv).
	CPUUsPerInv float64 `json:"fbench_cpu_us_per_inv"`
}

type results struct {
	When          time.Time   `json:"when"`
	Short         bool        `json:"short"`
	Reps          int         `json:"reps"`
	CPUs          int         `json:"cpus"`
	Raw           rawResult   `json:"raw_ceiling"` // raw host → raw worker
	RawRuns       []rawResult `json:"raw_ceiling_runs"`
	Fbench        rawResult   `json:"fbench_saturation"` // fbench → reference worker
	FbenchRuns    []rawResult `json:"fbench_saturation_runs"`
	RawRef        rawResult   `json:"raw_host_reference_worker"` // raw host → reference worker
	RawRefRuns    []rawResult `json:"raw_host_reference_worker_runs"`
	FbenchRaw     rawResult   `json:"fbench_raw_worker"` // fbench → raw worker
	FbenchRawRuns []rawResult `json:"fbench_raw_worker_runs"`
	CPURatio      float64     `json:"cpu_per_invocation_ratio"` // the harness's, on the raw worker
	// The harness's ratio on the reference worker, and the worker's (reference ÷ raw) under each host.
	HarnessRatioRef    float64           `json:"harness_ratio_reference_worker"`
	HarnessCPURatioRef float64           `json:"harness_cpu_ratio_reference_worker"`
	WorkerRatioRaw     float64           `json:"worker_ratio_raw_host"`
	WorkerRatioFbench  float64           `json:"worker_ratio_fbench"`
	MixedRatio         float64           `json:"fbench_ref_over_raw_raw"` // the former saturation_ratio: both harness and worker differ
	Footprint          []footprint       `json:"footprint"`
	Accuracy           []accuracy        `json:"timing_accuracy"`
	RSSEarlyBytes      int64             `json:"rss_early_bytes"`
	RSSLateBytes       int64             `json:"rss_late_bytes"`
	RSSEarlyAt         string            `json:"rss_early_at"`
	RSSLateAt          string            `json:"rss_late_at"`
	SaturationRatio    float64           `json:"saturation_ratio"`
	PairRatios         []float64         `json:"saturation_ratio_pairs"`
	Notes              map[string]string `json:"notes"`
}

func main() {
	short := flag.Bool("short", false, "short durations (CI: proves the script works)")
	reps := flag.Int("reps", 5, "repetitions of each measurement (medians reported)")
	out := flag.String("out", "bench.json", "where to write the figures")
	depth := flag.Int("depth", 1024, "in-flight depth for the saturation runs (raw and fbench alike)")
	flag.Parse()
	if err := run(*short, *reps, *depth, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(short bool, reps, depth int, outPath string) error {
	tmp, err := os.MkdirTemp("", "fbench-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fb, raw := filepath.Join(tmp, "fbench"), filepath.Join(tmp, "rawceiling")
	for _, b := range [][2]string{{fb, "./cmd/fbench"}, {raw, "./scripts/rawceiling"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", b[1], err, out)
		}
	}
	if short {
		reps = 1
	}
	b := &bench{fb: fb, raw: raw, tmp: tmp, reps: reps, depth: depth, plan: newPlan(short),
		r: results{When: time.Now().UTC(), Short: short, Reps: reps, CPUs: runtime.NumCPU(), Notes: map[string]string{}}}
	for _, measure := range []func() error{b.measureSaturation, b.measureFootprint, b.measureAccuracy, b.measureMemory} {
		if err := measure(); err != nil {
			return err
		}
	}
	printTable(os.Stdout, &b.r)
	out, _ := json.MarshalIndent(&b.r, "", "  ")
	if err := os.WriteFile(outPath, append(out, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("saturation_ratio=%.3f\n", b.r.SaturationRatio)
	return nil
}

// plan is how long each measurement runs and at which rates.
type plan struct {
	satDur, accDur time.Duration // each saturation run, each timing-accuracy run
	early, late    time.Duration // when fbench's RSS is read in the memory run
	rates          []float64     // the timing-accuracy rates
	footRates      []float64     // the footprint rates
	footDur        time.Duration // each footprint run
}

// newPlan is the full plan, or with --short one that proves the script works.
func newPlan(short bool) plan {
	if short {
		return plan{satDur: 2 * time.Second, accDur: 2 * time.Second, early: 2 * time.Second, late: 4 * time.Second,
			rates: []float64{5000, 20000}, footRates: []float64{1000, 5000}, footDur: 2 * time.Second}
	}
	return plan{satDur: 10 * time.Second, accDur: 10 * time.Second, early: 10 * time.Second, late: 2 * time.Minute,
		rates: []float64{5000, 20000, 50000}, footRates: []float64{1000, 5000, 20000}, footDur: 10 * time.Second}
}

// bench is one bench run: the binaries it drives, its plan, and the figures so far.
type bench struct {
	fb, raw, tmp string // the fbench and rawceiling binaries, the directory of the runs
	reps, depth  int
	plan
	r results
}

// saturationRatios are each repetition's ratios of the saturation runs; the figures are their
// medians.
type saturationRatios struct {
	harness, harnessCPU       []float64 // fbench ÷ raw host, on the raw worker
	harnessRef, harnessCPURef []float64 // fbench ÷ raw host, on the reference worker
	workerRawHost             []float64 // reference ÷ raw worker, under the raw host
	workerFbench              []float64 // reference ÷ raw worker, under fbench
	mixed                     []float64 // fbench→ref ÷ raw→raw
}

// measureSaturation runs each harness with each worker, closed loop.
//
// The four saturation runs of a repetition run back to back, and every ratio is the median of
// the repetitions' ratios: this machine's speed drifts (shared cores), and runs made back to
// back see the same machine.
func (b *bench) measureSaturation() error {
	fmt.Fprintf(os.Stderr, "bench: saturation, each harness with each worker (%d × 4 × %s, depth %d)\n", b.reps, b.satDur, b.depth)
	var q saturationRatios
	for i := 0; i < b.reps; i++ {
		if err := b.saturationRep(i, &q); err != nil {
			return err
		}
	}
	r := &b.r
	r.Raw, r.Fbench = medianRaw(r.RawRuns), medianRaw(r.FbenchRuns)
	r.RawRef, r.FbenchRaw = medianRaw(r.RawRefRuns), medianRaw(r.FbenchRawRuns)
	r.PairRatios = q.harness
	r.SaturationRatio = median(q.harness)
	r.CPURatio = median(q.harnessCPU)
	r.HarnessRatioRef, r.HarnessCPURatioRef = median(q.harnessRef), median(q.harnessCPURef)
	r.WorkerRatioRaw, r.WorkerRatioFbench = median(q.workerRawHost), median(q.workerFbench)
	r.MixedRatio = median(q.mixed)
	r.Notes["saturation_ratio"] = "the harness's: median over the repetitions of fbench invocations/s ÷ raw host invocations/s, both driving the raw worker"
	r.Notes["worker_ratio"] = "the worker's: reference worker invocations/s ÷ raw worker invocations/s under the same host"
	r.Notes["fbench_cpu"] = "fbench's CPU over its measured window (summary harness.cpu_us_per_invocation) ÷ invocations sent in it"
	return nil
}

// saturationRep is repetition i of the saturation runs. Each harness pair runs back to back on
// its worker: raw→raw, fbench→raw, then raw→ref, fbench→ref (the harness ratio compares
// neighbours in time).
func (b *bench) saturationRep(i int, q *saturationRatios) error {
	refCmd := b.fb + " worker --dispatch=inline"
	closed := []string{"-c", strconv.Itoa(b.depth), "-d", b.satDur.String(), "--warmup", "1s", "--max-inflight", "0"}
	rr, err := rawHost(b.raw, "--duration", b.satDur.String(), "--depth", strconv.Itoa(b.depth))
	if err != nil {
		return err
	}
	// The raw worker as the raw host launches it: one P, GOGC 400, answering on its reader.
	s, _, err := fbench(b.fb, b.tmp, append(closed, "--indexing", "worker", "--", b.raw, "worker", "--mode", "inline", "--procs", "1", "--gc", "400")...)
	if err != nil {
		return err
	}
	fr := rawResult{InvPerS: s.AchievedRPS, HostCPUUsPerInv: s.cpuPerInv(), WorkerCPUUsInv: s.workerPerInv()}
	rf, err := rawHost(b.raw, "--duration", b.satDur.String(), "--depth", strconv.Itoa(b.depth), "--worker-cmd", refCmd)
	if err != nil {
		return err
	}
	s, _, err = fbench(b.fb, b.tmp, append(closed, "--ref", "dispatch=inline")...)
	if err != nil {
		return err
	}
	ff := rawResult{InvPerS: s.AchievedRPS, HostCPUUsPerInv: s.cpuPerInv(), WorkerCPUUsInv: s.workerPerInv()}
	r := &b.r
	r.RawRuns, r.RawRefRuns = append(r.RawRuns, rr), append(r.RawRefRuns, rf)
	r.FbenchRuns, r.FbenchRawRuns = append(r.FbenchRuns, ff), append(r.FbenchRawRuns, fr)
	if rr.InvPerS > 0 && rr.HostCPUUsPerInv > 0 && rf.InvPerS > 0 && rf.HostCPUUsPerInv > 0 && fr.InvPerS > 0 {
		q.harness = append(q.harness, fr.InvPerS/rr.InvPerS)
		q.harnessCPU = append(q.harnessCPU, fr.HostCPUUsPerInv/rr.HostCPUUsPerInv)
		q.harnessRef = append(q.harnessRef, ff.InvPerS/rf.InvPerS)
		q.harnessCPURef = append(q.harnessCPURef, ff.HostCPUUsPerInv/rf.HostCPUUsPerInv)
		q.workerRawHost = append(q.workerRawHost, rf.InvPerS/rr.InvPerS)
		q.workerFbench = append(q.workerFbench, ff.InvPerS/fr.InvPerS)
		q.mixed = append(q.mixed, ff.InvPerS/rr.InvPerS)
	}
	fmt.Fprintf(os.Stderr, "bench:   rep %d: raw→raw %.0f/s, raw→ref %.0f/s, fbench→raw %.0f/s, fbench→ref %.0f/s\n", i+1, rr.InvPerS, rf.InvPerS, fr.InvPerS, ff.InvPerS)
	return nil
}

// measureFootprint measures at the rates real workers run: fbench and the paced raw sender
// alternate, both driving the reference worker as fbench launches it by default.
func (b *bench) measureFootprint() error {
	fmt.Fprintf(os.Stderr, "bench: footprint at %v/s (%d × 2 × %s)\n", b.footRates, b.reps, b.footDur)
	for _, rate := range b.footRates {
		f, err := b.footprintAt(rate)
		if err != nil {
			return err
		}
		b.r.Footprint = append(b.r.Footprint, f)
	}
	b.r.Notes["footprint"] = "fbench open loop (-rps R) and the paced raw sender (rawceiling --rate R: fbench's pacing and GOMAXPROCS, nothing else) driving the reference worker; CPU per invocation over the measured window, ratio = median over the repetitions of fbench ÷ raw"
	return nil
}

// footprintAt is one footprint row: the medians of the repetitions at rate.
func (b *bench) footprintAt(rate float64) (footprint, error) {
	var ratios []float64
	var fbs, raws []rawResult
	var fbPct, rawPct []float64
	for i := 0; i < b.reps; i++ {
		rp, err := rawHost(b.raw, "--duration", b.footDur.String(), "--rate", strconv.FormatFloat(rate, 'f', -1, 64),
			"--procs", strconv.Itoa(runtime.NumCPU()+2), "--worker-cmd", b.fb+" worker")
		if err != nil {
			return footprint{}, err
		}
		s, _, err := fbench(b.fb, b.tmp, "-rps", strconv.FormatFloat(rate, 'f', -1, 64), "-d", b.footDur.String(), "--warmup", "1s", "--lag-budget", "1h")
		if err != nil {
			return footprint{}, err
		}
		fr := rawResult{InvPerS: s.AchievedRPS, HostCPUUsPerInv: s.cpuPerInv(), LagP99Us: s.Latency["lag"].P99}
		fbs, raws = append(fbs, fr), append(raws, rp)
		fbPct, rawPct = append(fbPct, s.Harness.MeanCPUPct), append(rawPct, rp.HostCores*100)
		if rp.HostCPUUsPerInv > 0 {
			ratios = append(ratios, fr.HostCPUUsPerInv/rp.HostCPUUsPerInv)
		}
		fmt.Fprintf(os.Stderr, "bench:   %.0f/s rep %d: fbench %.1f µs/inv (lag p99 %d µs), raw %.1f µs/inv (lag p99 %d µs)\n",
			rate, i+1, fr.HostCPUUsPerInv, fr.LagP99Us, rp.HostCPUUsPerInv, rp.LagP99Us)
	}
	mf, mr := medianRaw(fbs), medianRaw(raws)
	return footprint{Rate: rate, FbenchUsPerInv: mf.HostCPUUsPerInv, RawUsPerInv: mr.HostCPUUsPerInv,
		Ratio: median(ratios), FbenchLagP99: mf.LagP99Us, RawLagP99: mr.LagP99Us,
		FbenchCPUPct: median(fbPct), RawCPUPct: median(rawPct), FbenchAchieved: mf.InvPerS, RawAchieved: mr.InvPerS, RawSwitches: mr.HostSwitches}, nil
}

// accRun is one timing-accuracy row's settings.
type accRun struct {
	rate      float64
	realtime  bool
	proxy     bool
	processes int
}

// measureAccuracy measures timing accuracy open loop at each rate, then at 5 000/s with
// --realtime-sender and with the reference worker in HTTP proxying mode, and at 20 000/s with
// four worker processes.
func (b *bench) measureAccuracy() error {
	var accRuns []accRun
	for _, rate := range b.rates {
		accRuns = append(accRuns, accRun{rate, false, false, 1})
	}
	accRuns = append(accRuns, accRun{5000, true, false, 1})   // --realtime-sender (where permitted)
	accRuns = append(accRuns, accRun{5000, false, true, 1})   // HTTP proxying mode: an HTTP exchange beside each invocation
	accRuns = append(accRuns, accRun{20000, false, false, 4}) // four worker processes
	b.r.Notes["http_proxy"] = "5000 proxy: the reference worker in HTTP proxying mode (--ref http=proxy); CPU µs/inv: fbench's CPU over its measured window ÷ invocations sent in it (whole-process when not sampled)"
	b.r.Notes["worker_processes"] = "20000 p4: four reference worker processes (--processes 4); compare its CPU per invocation with the one-process row at the same rate"
	for _, ar := range accRuns {
		a, err := b.accuracyOf(ar)
		if err != nil {
			return err
		}
		b.r.Accuracy = append(b.r.Accuracy, a)
	}
	return nil
}

// accuracyOf is one timing-accuracy row: the medians of the repetitions of ar.
func (b *bench) accuracyOf(ar accRun) (accuracy, error) {
	rate := ar.rate
	fmt.Fprintf(os.Stderr, "bench: timing accuracy at %.0f/s (%d × %s, realtime sender %v)\n", rate, b.reps, b.accDur, ar.realtime)
	var runs []accuracy
	for i := 0; i < b.reps; i++ {
		args := []string{"-rps", strconv.FormatFloat(rate, 'f', -1, 64), "-d", b.accDur.String(), "--warmup", "1s", "--lag-budget", "1h"}
		if ar.realtime {
			args = append(args, "--realtime-sender")
		}
		if ar.proxy {
			args = append(args, "--ref", "http=proxy")
		}
		if ar.processes > 1 {
			args = append(args, "--processes", strconv.Itoa(ar.processes), "--process-start-interval", "0")
		}
		s, _, err := fbench(b.fb, b.tmp, args...)
		if err != nil {
			return accuracy{}, err
		}
		a := accuracy{Offered: s.OfferedRPS, Achieved: s.AchievedRPS, Lag: s.Latency["lag"], HarnessLag: s.Latency["harness_lag"], Valid: s.Harness.Valid,
			Realtime: ar.realtime, HTTPProxy: ar.proxy, Processes: ar.processes}
		a.CPUUsPerInv = s.cpuPerInv()
		if a.Offered > 0 {
			a.AchievedPct = 100 * a.Achieved / a.Offered
		}
		runs = append(runs, a)
	}
	return medianAccuracy(runs), nil
}

// measureMemory reads fbench's RSS at 5 000/s early in a run and late in it.
func (b *bench) measureMemory() error {
	fmt.Fprintf(os.Stderr, "bench: memory at 5000/s (%s)\n", b.late+5*time.Second)
	_, dir, err := fbench(b.fb, b.tmp, "-rps", "5000", "-d", (b.late + 5*time.Second).String(), "--lag-budget", "1h")
	if err != nil {
		return err
	}
	b.r.RSSEarlyBytes, b.r.RSSLateBytes = rssAt(dir, b.early), rssAt(dir, b.late)
	b.r.RSSEarlyAt, b.r.RSSLateAt = b.early.String(), b.late.String()
	return nil
}

var runSeq int

// rawHost runs one rawceiling host measurement (no ping-pong phase) and returns its figures.
func rawHost(bin string, args ...string) (rawResult, error) {
	cmd := exec.Command(bin, append([]string{"host", "--pingpong", "0", "--json"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return rawResult{}, fmt.Errorf("rawceiling %s: %v: %s", strings.Join(args, " "), err, lastLines(stderr.String(), 3))
	}
	var res rawResult
	if err := json.Unmarshal(lastJSON(b), &res); err != nil {
		return rawResult{}, fmt.Errorf("rawceiling output: %v", err)
	}
	return res, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// fbench runs one fbench benchmark quietly and returns its summary and run directory.
func fbench(bin, tmp string, args ...string) (*summary, string, error) {
	runSeq++
	dir := filepath.Join(tmp, fmt.Sprintf("run-%d", runSeq))
	cmd := exec.Command(bin, append([]string{"run", "--quiet", "--out", dir}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		// Exit 3 (harness invalid) still measured something; anything else is a failure.
		if !asExit(err, &ee) || ee.ExitCode() != 3 {
			return nil, "", fmt.Errorf("fbench %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, "", err
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, "", err
	}
	return &s, dir, nil
}

func asExit(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*ee = e
	}
	return ok
}

// rssAt reads fbench's RSS from intervals.csv at the interval that ends at or after offset at.
func rssAt(dir string, at time.Duration) int64 {
	f, err := os.Open(filepath.Join(dir, "intervals.csv"))
	if err != nil {
		return 0
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		return 0
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var last int64
	for _, row := range rows[1:] {
		start, _ := strconv.ParseFloat(row[col["start_s"]], 64)
		rss, _ := strconv.ParseInt(row[col["fbench_rss_bytes"]], 10, 64)
		if rss > 0 {
			last = rss
		}
		if start+1 >= at.Seconds() && rss > 0 {
			return rss
		}
	}
	return last
}

func lastJSON(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return []byte(lines[len(lines)-1])
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func medianRaw(rs []rawResult) rawResult {
	pick := func(f func(rawResult) float64) float64 {
		var v []float64
		for _, r := range rs {
			v = append(v, f(r))
		}
		return median(v)
	}
	return rawResult{
		InvPerS:         pick(func(r rawResult) float64 { return r.InvPerS }),
		HostCPUUsPerInv: pick(func(r rawResult) float64 { return r.HostCPUUsPerInv }),
		WorkerCPUUsInv:  pick(func(r rawResult) float64 { return r.WorkerCPUUsInv }),
		LagP99Us:        int64(pick(func(r rawResult) float64 { return float64(r.LagP99Us) })),
		HostSwitches:    pick(func(r rawResult) float64 { return r.HostSwitches }),
	}
}

func medianAccuracy(rs []accuracy) accuracy {
	pick := func(f func(accuracy) float64) float64 {
		var v []float64
		for _, r := range rs {
			v = append(v, f(r))
		}
		return median(v)
	}
	m := accuracy{
		Offered:     pick(func(a accuracy) float64 { return a.Offered }),
		Achieved:    pick(func(a accuracy) float64 { return a.Achieved }),
		AchievedPct: pick(func(a accuracy) float64 { return a.AchievedPct }),
		CPUUsPerInv: pick(func(a accuracy) float64 { return a.CPUUsPerInv }),
		Valid:       true,
	}
	m.Lag = latency{P50: int64(pick(func(a accuracy) float64 { return float64(a.Lag.P50) })), P99: int64(pick(func(a accuracy) float64 { return float64(a.Lag.P99) })), Max: int64(pick(func(a accuracy) float64 { return float64(a.Lag.Max) }))}
	m.HarnessLag = latency{P50: int64(pick(func(a accuracy) float64 { return float64(a.HarnessLag.P50) })), P99: int64(pick(func(a accuracy) float64 { return float64(a.HarnessLag.P99) })), Max: int64(pick(func(a accuracy) float64 { return float64(a.HarnessLag.Max) }))}
	for _, r := range rs {
		m.Valid = m.Valid && r.Valid
		m.Realtime = r.Realtime
		m.HTTPProxy = r.HTTPProxy
		m.Processes = r.Processes
	}
	return m
}

func printTable(w io.Writer, r *results) {
	fmt.Fprintf(w, "\nfbench bench (%d CPUs, medians of %d, %s)\n\n", r.CPUs, r.Reps, map[bool]string{true: "short", false: "full"}[r.Short])
	fmt.Fprintf(w, "%-34s %14s %16s %18s\n", "saturation (closed loop)", "invocations/s", "host CPU µs/inv", "worker CPU µs/inv")
	for _, row := range []struct {
		label string
		r     rawResult
	}{
		{"raw host → raw worker", r.Raw},
		{"raw host → reference worker", r.RawRef},
		{"fbench → raw worker", r.FbenchRaw},
		{"fbench → reference worker", r.Fbench},
	} {
		fmt.Fprintf(w, "%-34s %14.0f %16.2f %18.2f\n", row.label, row.r.InvPerS, row.r.HostCPUUsPerInv, row.r.WorkerCPUUsInv)
	}
	fmt.Fprintf(w, "%-34s %14s %16s\n", "ratios (medians of repetitions)", "invocations/s", "host CPU")
	fmt.Fprintf(w, "%-34s %14.3f %16.3f\n", "harness: fbench ÷ raw, raw worker", r.SaturationRatio, r.CPURatio)
	fmt.Fprintf(w, "%-34s %14.3f %16.3f\n", "harness: fbench ÷ raw, ref worker", r.HarnessRatioRef, r.HarnessCPURatioRef)
	fmt.Fprintf(w, "%-34s %14.3f\n", "worker: ref ÷ raw, raw host", r.WorkerRatioRaw)
	fmt.Fprintf(w, "%-34s %14.3f\n", "worker: ref ÷ raw, fbench", r.WorkerRatioFbench)
	fmt.Fprintf(w, "%-34s %14.3f\n", "both: fbench→ref ÷ raw→raw", r.MixedRatio)
	fmt.Fprintf(w, "%-34s %14s\n\n", "harness ratio per repetition", fmtRatios(r.PairRatios))
	fmt.Fprintf(w, "%-10s %14s %14s %8s %16s %16s %14s\n", "footprint", "fbench µs/inv", "paced raw µs", "ratio", "fbench lag p99", "raw lag p99", "fbench % core")
	for _, f := range r.Footprint {
		fmt.Fprintf(w, "%-10s %14.1f %14.1f %8.2f %13d µs %13d µs %13.1f%%\n", strconv.FormatFloat(f.Rate, 'f', 0, 64)+"/s",
			f.FbenchUsPerInv, f.RawUsPerInv, f.Ratio, f.FbenchLagP99, f.RawLagP99, f.FbenchCPUPct)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-12s %12s %10s %26s %26s %14s\n", "offered/s", "achieved/s", "% offered", "lag p50/p99/max µs", "harness_lag p50/p99/max µs", "CPU µs/inv")
	for _, a := range r.Accuracy {
		label := strconv.FormatFloat(a.Offered, 'f', 0, 64)
		if a.Realtime {
			label += " rt"
		}
		if a.HTTPProxy {
			label += " proxy"
		}
		if a.Processes > 1 {
			label += " p" + strconv.Itoa(a.Processes)
		}
		fmt.Fprintf(w, "%-12s %12.0f %9.2f%% %26s %26s %14.2f\n", label, a.Achieved, a.AchievedPct,
			fmt.Sprintf("%d/%d/%d", a.Lag.P50, a.Lag.P99, a.Lag.Max), fmt.Sprintf("%d/%d/%d", a.HarnessLag.P50, a.HarnessLag.P99, a.HarnessLag.Max), a.CPUUsPerInv)
	}
	fmt.Fprintf(w, "(rt: --realtime-sender; proxy: the reference worker in HTTP proxying mode; p4: four worker processes)\n")
	fmt.Fprintf(w, "\nfbench RSS at 5000/s: %.1f MiB after %s, %.1f MiB after %s\n\n", float64(r.RSSEarlyBytes)/(1<<20), r.RSSEarlyAt, float64(r.RSSLateBytes)/(1<<20), r.RSSLateAt)
}

func fmtRatios(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}
