package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/loadgen/host"
)

// The card's own command: a bare executable that indexes its own functions, in an app with no
// function.json, runs (discovery asks the worker, and fbench says so before measuring).
func TestBareExecutableWithoutFunctionJSONRuns(t *testing.T) {
	dir := t.TempDir()
	writeExec(t, filepath.Join(dir, "worker"), "#!/bin/sh\nexec "+shQuote(fbenchBin(t))+" worker \"$@\"\n")
	out := filepath.Join(t.TempDir(), "run")
	p := startFbench(t, dir, "-rps", "5000", "-d", "1s", "--lag-budget", "10s", "--cpu-budget", "400", "--quiet", "--out", out, "./worker")
	r := p.wait(time.Minute)
	expectExit(t, r, 0, 3) // 3: the shared machine was too busy to measure; the point is that it ran
	if !strings.Contains(r.stderr, "no worker.config.json and no function.json") {
		t.Errorf("the indexing rule is not said:\n%s", r.stderr)
	}
	if s := loadSummary(t, out); s.Counts.Succeeded == 0 {
		t.Errorf("nothing succeeded: %+v", s.Counts)
	}
}

// layPythonStyleWorker builds a worker directory laid out as the Python worker ships:
// worker.config.json naming %FUNCTIONS_WORKER_RUNTIME_VERSION%/{os}/{architecture}/worker.py, and
// that file for 3.11 on this machine's platform. "python" is a stand-in interpreter on PATH that
// runs the script it is given; worker.py starts the reference worker.
func layPythonStyleWorker(t *testing.T) (workerDir, binDir string) {
	t.Helper()
	workerDir, binDir = filepath.Join(t.TempDir(), "python"), t.TempDir()
	plat := host.CurrentPlatform()
	script := filepath.Join(workerDir, "3.11", plat.OS, plat.Arch, "worker.py")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	writeExec(t, script, "#!/bin/sh\nexec "+shQuote(fbenchBin(t))+" worker \"$@\"\n")
	writeExec(t, filepath.Join(binDir, "python"), "#!/bin/sh\nscript=\"$1\"; shift\nexec \"$script\" \"$@\"\n")
	cfg := `{
    "description": {
        "language": "python",
        "defaultRuntimeVersion": "3.11",
        "supportedOperatingSystems": ["LINUX", "OSX", "WINDOWS"],
        "supportedArchitectures": ["X64", "X86", "Arm64"],
        "supportedRuntimeVersions": ["3.9", "3.10", "3.11", "3.12"],
        "extensions": [".py"],
        "defaultExecutablePath": "python",
        "defaultWorkerPath": "%FUNCTIONS_WORKER_RUNTIME_VERSION%/{os}/{architecture}/worker.py",
        "workerIndexing": "true"
    }
}`
	if err := os.WriteFile(filepath.Join(workerDir, "worker.config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return workerDir, binDir
}

// A Python-style {os}/{architecture} layout probes as the host launches it, and a runtime version
// it does not ship is one line naming the file and the field.
func TestProbePythonStyleLayout(t *testing.T) {
	workerDir, binDir := layPythonStyleWorker(t)
	t.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FUNCTIONS_WORKER_RUNTIME_VERSION", "")
	plat := host.CurrentPlatform()
	r := fbench(t, time.Minute, "probe", "--app", t.TempDir(), workerDir)
	expectExit(t, r, 0)
	want := filepath.Join(workerDir, "3.11", plat.OS, plat.Arch, "worker.py")
	for _, s := range []string{`"python" "` + want + `" "--host" "127.0.0.1"`, "runtime version 3.11", "indexing        worker", "Exit code: 0"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("probe output lacks %q:\n%s", s, r.stdout)
		}
	}
	r = fbench(t, time.Minute, "probe", "--env", "FUNCTIONS_WORKER_RUNTIME_VERSION=3.12", workerDir)
	expectExit(t, r, 1)
	expectLine(t, errorLine(t, r), filepath.Join(workerDir, "worker.config.json")+": description.defaultWorkerPath: ",
		"3.12/"+plat.OS+"/"+plat.Arch+"/worker.py does not exist", "this worker ships 3.11")
}

// groupMembers lists the live processes of process group pgid.
func groupMembers(pgid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

// A worker that ignores its stream's end, and a child it started, do not survive a kill -9 of
// fbench: the kernel's parent-death signal ends the worker, the guard its process group.
func TestWorkerDiesWithKilledFbench(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\n" +
		"sleep 600 &\n" +
		"echo $! > " + shQuote(filepath.Join(dir, "child.pid")) + "\n" +
		"trap '' TERM HUP INT\n" +
		shQuote(fbenchBin(t)) + " worker \"$@\"\n" +
		"sleep 600\n" + // the stream ended: this worker carries on regardless
		"echo survived > " + shQuote(filepath.Join(dir, "survived")) + "\n"
	writeExec(t, filepath.Join(dir, "worker"), script)
	p := startFbench(t, dir, "-rps", "50", "-d", "60s", "--quiet", "--out", filepath.Join(dir, "run"), "./worker")
	var childPid int
	if !waitFor(30*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "child.pid"))
		childPid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && childPid > 0 && fileHas(filepath.Join(dir, "run", "worker.log"))
	}) {
		t.Fatalf("the worker did not start:\n%s", p.err.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "run", "run.json"))
	var meta struct {
		Worker struct{ Pid int } `json:"worker"`
	}
	if !waitFor(30*time.Second, func() bool {
		b, _ = os.ReadFile(filepath.Join(dir, "run", "run.json"))
		return json.Unmarshal(b, &meta) == nil && meta.Worker.Pid > 0
	}) {
		t.Fatalf("no worker pid in run.json:\n%s", p.err.String())
	}
	workerPid := meta.Worker.Pid
	if m := groupMembers(workerPid); len(m) < 3 {
		t.Fatalf("worker group %d has %v, want the script, its sleep and the reference worker", workerPid, m)
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	if !waitFor(15*time.Second, func() bool { return len(groupMembers(workerPid)) == 0 && !alive(childPid) }) {
		t.Fatalf("after kill -9 of fbench, worker group %d still has %v (child %d alive %v)", workerPid, groupMembers(workerPid), childPid, alive(childPid))
	}
}

func fileHas(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() >= 0
}
