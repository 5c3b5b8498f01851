package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestProbeReferenceWorker(t *testing.T) {
	p := startFbench(t, "", "probe", "--json")
	r := p.wait(time.Minute)
	if r.code != 0 {
		t.Fatalf("probe exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Timeline []struct {
			Name string `json:"name"`
			At   int64  `json:"at_ns"`
		} `json:"timeline"`
		Capabilities map[string]string `json:"capabilities"`
		Functions    []struct {
			Name     string   `json:"name"`
			ID       string   `json:"id"`
			Trigger  string   `json:"trigger"`
			Bindings []string `json:"bindings"`
		} `json:"functions"`
		ExitCode *int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("probe --json: %v\n%s", err, r.stdout)
	}
	var steps []string
	for i, s := range out.Timeline {
		steps = append(steps, strings.Fields(s.Name)[0])
		if i > 0 && s.At < out.Timeline[i-1].At {
			t.Errorf("time line goes back at %s", s.Name)
		}
	}
	for _, want := range []string{"spawn", "start_stream", "init", "metadata", "load", "ping", "terminate", "exit"} {
		if !slices.Contains(steps, want) {
			t.Errorf("time line lacks %s: %v", want, steps)
		}
	}
	if out.Capabilities["HandlesInvocationCancelMessage"] == "" || out.ExitCode == nil || *out.ExitCode != 0 {
		t.Errorf("capabilities %v, exit code %v", out.Capabilities, out.ExitCode)
	}
	found := false
	for _, f := range out.Functions {
		if f.Name == "echo" {
			found = f.Trigger == "httpTrigger" && len(f.ID) == 36 && slices.Equal(f.Bindings, []string{"req", "$return"})
		}
	}
	if !found {
		t.Errorf("echo not listed with trigger, id and bindings: %+v", out.Functions)
	}

	// The text form prints the same time line and functions.
	p = startFbench(t, "", "probe")
	r = p.wait(time.Minute)
	if r.code != 0 || !strings.Contains(r.stdout, "start_stream") || !strings.Contains(r.stdout, "echo") || !strings.Contains(r.stdout, "Exit code: 0") {
		t.Fatalf("probe text (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A function.json app discovered by the host (no worker indexing), probed through a worker
// directory with worker.config.json: the path a Java or PowerShell worker takes.
func TestProbeWorkerConfigAndFunctionJSON(t *testing.T) {
	exe := fbenchBin(t)
	wdir, app := t.TempDir(), t.TempDir()
	cfg := `{"description": {"language": "fbench-reference", "defaultExecutablePath": "` + exe + `", "arguments": ["worker"]}}`
	if err := os.WriteFile(filepath.Join(wdir, "worker.config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(app, "echo"), 0o755); err != nil {
		t.Fatal(err)
	}
	fj := `{"bindings": [{"name": "req", "type": "httpTrigger", "direction": "in"}, {"name": "$return", "type": "http", "direction": "out"}]}`
	if err := os.WriteFile(filepath.Join(app, "echo", "function.json"), []byte(fj), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startFbench(t, "", "probe", "--app", app, wdir)
	r := p.wait(time.Minute)
	if r.code != 0 || !strings.Contains(r.stdout, "discovery") || !strings.Contains(r.stdout, "1 functions from function.json") {
		t.Fatalf("probe (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	// And a short run through the same worker directory.
	out := filepath.Join(t.TempDir(), "run")
	p = startFbench(t, "", "-rps", "200", "-d", "1s", "--lag-budget", "10s", "--quiet", "--out", out, "--app", app, wdir)
	if r := p.wait(time.Minute); r.code != 0 {
		t.Fatalf("run (exit %d): %s", r.code, r.stderr)
	}
}

// A function that fails to load leaves the handshake incomplete: probe prints everything it saw and
// exits 1 with one line naming the function.
func TestProbeFailedLoadExits1(t *testing.T) {
	r := fbench(t, time.Minute, "probe", "--ref", "fault=fail-load=echo")
	expectExit(t, r, 1)
	expectLine(t, errorLine(t, r), "fbench: probe: 1 function(s) failed to load; first: echo: ")
	if !strings.Contains(r.stdout, "FAILED") {
		t.Errorf("probe output does not show the failed load:\n%s", r.stdout)
	}
}
