// Command benchdriver is scripts/bench.sh: it measures, in one run on this machine, fbench against
// the raw ceiling of its transport and prints a table, writes bench.json and ends with the line
// saturation_ratio=R.
//
//   - raw ceiling: scripts/rawceiling (a minimal host/worker pair, same generated code, no fbench
//     logic), invocations per second and host CPU per invocation;
//   - fbench at saturation: closed loop against the reference worker's zero-work echo answered on
//     its read loop (--ref dispatch=inline, as the raw worker answers), invocations per second and
//     fbench's CPU per invocation;
//   - timing accuracy: open loop at 5 000, 20 000 and 50 000 invocations/s (and 5 000/s again with
//     --realtime-sender, and with the reference worker in HTTP proxying mode): achieved vs offered, lag
//     and harness_lag p50/p99/max, fbench's CPU per invocation;
//   - memory: fbench's RSS at 5 000/s after 10 s and after 2 minutes.
//
// Each figure is the median of --reps repetitions. --short shrinks every duration (CI proves the
// script works; its timings are not judged).
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
		CPUSeconds float64 `json:"cpu_seconds"`
		Valid      bool    `json:"valid"`
	} `json:"harness"`
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
	// CPUUsPerInv is fbench's whole-process CPU ÷ invocations sent, at this rate.
	CPUUsPerInv float64 `json:"fbench_cpu_us_per_inv"`
}

type results struct {
	When            time.Time         `json:"when"`
	Short           bool              `json:"short"`
	Reps            int               `json:"reps"`
	CPUs            int               `json:"cpus"`
	Raw             rawResult         `json:"raw_ceiling"`
	RawRuns         []rawResult       `json:"raw_ceiling_runs"`
	Fbench          rawResult         `json:"fbench_saturation"`
	FbenchRuns      []rawResult       `json:"fbench_saturation_runs"`
	CPURatio        float64           `json:"cpu_per_invocation_ratio"`
	Accuracy        []accuracy        `json:"timing_accuracy"`
	RSSEarlyBytes   int64             `json:"rss_early_bytes"`
	RSSLateBytes    int64             `json:"rss_late_bytes"`
	RSSEarlyAt      string            `json:"rss_early_at"`
	RSSLateAt       string            `json:"rss_late_at"`
	SaturationRatio float64           `json:"saturation_ratio"`
	PairRatios      []float64         `json:"saturation_ratio_pairs"`
	Notes           map[string]string `json:"notes"`
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
	satDur, accDur, early, late := 10*time.Second, 10*time.Second, 10*time.Second, 2*time.Minute
	rates := []float64{5000, 20000, 50000}
	if short {
		satDur, accDur, early, late = 2*time.Second, 2*time.Second, 2*time.Second, 4*time.Second
		rates = []float64{5000, 20000}
		reps = 1
	}
	r := results{When: time.Now().UTC(), Short: short, Reps: reps, CPUs: runtime.NumCPU(), Notes: map[string]string{}}

	// Raw and fbench runs alternate, and the ratio is the median of each pair's ratio: this machine's
	// speed drifts (shared cores), and a pair run back to back sees the same machine.
	fmt.Fprintf(os.Stderr, "bench: saturation, raw ceiling and fbench alternating (%d × 2 × %s, depth %d)\n", reps, satDur, depth)
	var pairRatios, pairCPURatios []float64
	for i := 0; i < reps; i++ {
		b, err := exec.Command(raw, "host", "--duration", satDur.String(), "--depth", strconv.Itoa(depth), "--pingpong", "0", "--json").Output()
		if err != nil {
			return fmt.Errorf("rawceiling: %v", err)
		}
		var rr rawResult
		if err := json.Unmarshal(lastJSON(b), &rr); err != nil {
			return fmt.Errorf("rawceiling output: %v", err)
		}
		r.RawRuns = append(r.RawRuns, rr)

		s, _, err := fbench(fb, tmp, "-c", strconv.Itoa(depth), "-d", satDur.String(), "--warmup", "1s", "--max-inflight", "0", "--ref", "dispatch=inline")
		if err != nil {
			return err
		}
		per := 0.0
		if s.Counts.Sent > 0 {
			per = s.Harness.CPUSeconds * 1e6 / float64(s.Counts.Sent)
		}
		fr := rawResult{InvPerS: s.AchievedRPS, HostCPUUsPerInv: per}
		r.FbenchRuns = append(r.FbenchRuns, fr)
		if rr.InvPerS > 0 && rr.HostCPUUsPerInv > 0 {
			pairRatios = append(pairRatios, fr.InvPerS/rr.InvPerS)
			pairCPURatios = append(pairCPURatios, fr.HostCPUUsPerInv/rr.HostCPUUsPerInv)
		}
		fmt.Fprintf(os.Stderr, "bench:   pair %d: raw %.0f/s, fbench %.0f/s\n", i+1, rr.InvPerS, fr.InvPerS)
	}
	r.Raw, r.Fbench = medianRaw(r.RawRuns), medianRaw(r.FbenchRuns)
	r.PairRatios = pairRatios
	r.SaturationRatio = median(pairRatios)
	r.CPURatio = median(pairCPURatios)
	r.Notes["saturation_ratio"] = "median over the alternating pairs of fbench invocations/s ÷ raw ceiling invocations/s"
	r.Notes["fbench_cpu"] = "fbench's whole-process CPU (handshake and warm-up included) ÷ invocations sent"

	type accRun struct {
		rate      float64
		realtime  bool
		proxy     bool
		processes int
	}
	var accRuns []accRun
	for _, rate := range rates {
		accRuns = append(accRuns, accRun{rate, false, false, 1})
	}
	accRuns = append(accRuns, accRun{5000, true, false, 1})   // --realtime-sender (where permitted)
	accRuns = append(accRuns, accRun{5000, false, true, 1})   // HTTP proxying mode: an HTTP exchange beside each invocation
	accRuns = append(accRuns, accRun{20000, false, false, 4}) // four worker processes
	r.Notes["http_proxy"] = "5000 proxy: the reference worker in HTTP proxying mode (--ref http=proxy); CPU µs/inv: fbench's whole-process CPU ÷ invocations sent"
	r.Notes["worker_processes"] = "20000 p4: four reference worker processes (--processes 4); compare its CPU per invocation with the one-process row at the same rate"
	for _, ar := range accRuns {
		rate := ar.rate
		fmt.Fprintf(os.Stderr, "bench: timing accuracy at %.0f/s (%d × %s, realtime sender %v)\n", rate, reps, accDur, ar.realtime)
		var runs []accuracy
		for i := 0; i < reps; i++ {
			args := []string{"-rps", strconv.FormatFloat(rate, 'f', -1, 64), "-d", accDur.String(), "--warmup", "1s", "--lag-budget", "1h"}
			if ar.realtime {
				args = append(args, "--realtime-sender")
			}
			if ar.proxy {
				args = append(args, "--ref", "http=proxy")
			}
			if ar.processes > 1 {
				args = append(args, "--processes", strconv.Itoa(ar.processes), "--process-start-interval", "0")
			}
			s, _, err := fbench(fb, tmp, args...)
			if err != nil {
				return err
			}
			a := accuracy{Offered: s.OfferedRPS, Achieved: s.AchievedRPS, Lag: s.Latency["lag"], HarnessLag: s.Latency["harness_lag"], Valid: s.Harness.Valid,
				Realtime: ar.realtime, HTTPProxy: ar.proxy, Processes: ar.processes}
			if s.Counts.Sent > 0 {
				a.CPUUsPerInv = 1e6 * s.Harness.CPUSeconds / float64(s.Counts.Sent)
			}
			if a.Offered > 0 {
				a.AchievedPct = 100 * a.Achieved / a.Offered
			}
			runs = append(runs, a)
		}
		r.Accuracy = append(r.Accuracy, medianAccuracy(runs))
	}

	fmt.Fprintf(os.Stderr, "bench: memory at 5000/s (%s)\n", late+5*time.Second)
	_, dir, err := fbench(fb, tmp, "-rps", "5000", "-d", (late + 5*time.Second).String(), "--lag-budget", "1h")
	if err != nil {
		return err
	}
	r.RSSEarlyBytes, r.RSSLateBytes = rssAt(dir, early), rssAt(dir, late)
	r.RSSEarlyAt, r.RSSLateAt = early.String(), late.String()

	printTable(os.Stdout, &r)
	b, _ := json.MarshalIndent(&r, "", "  ")
	if err := os.WriteFile(outPath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("saturation_ratio=%.3f\n", r.SaturationRatio)
	return nil
}

var runSeq int

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
	var a, b, c []float64
	for _, r := range rs {
		a, b, c = append(a, r.InvPerS), append(b, r.HostCPUUsPerInv), append(c, r.WorkerCPUUsInv)
	}
	return rawResult{InvPerS: median(a), HostCPUUsPerInv: median(b), WorkerCPUUsInv: median(c)}
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
	fmt.Fprintf(w, "%-34s %14s %18s\n", "saturation", "invocations/s", "host CPU µs/inv")
	fmt.Fprintf(w, "%-34s %14.0f %18.2f\n", "raw ceiling (no fbench logic)", r.Raw.InvPerS, r.Raw.HostCPUUsPerInv)
	fmt.Fprintf(w, "%-34s %14.0f %18.2f\n", "fbench (closed loop, echo)", r.Fbench.InvPerS, r.Fbench.HostCPUUsPerInv)
	fmt.Fprintf(w, "%-34s %14.3f %18.3f\n", "fbench ÷ raw (median of pairs)", r.SaturationRatio, r.CPURatio)
	fmt.Fprintf(w, "%-34s %14s\n\n", "pair ratios", fmtRatios(r.PairRatios))
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
