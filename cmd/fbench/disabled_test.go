package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A function the app disables gets no traffic unless it is named, as under the host; the app
// setting AzureWebJobs.NAME.Disabled disables one too.
func TestDisabledFunctionsNotInvoked(t *testing.T) {
	exe := fbenchBin(t)
	wdir, app := t.TempDir(), t.TempDir()
	cfg := `{"description": {"language": "fbench-reference", "defaultExecutablePath": "` + exe + `", "arguments": ["worker"]}}`
	if err := os.WriteFile(filepath.Join(wdir, "worker.config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"echo":  `{"bindings": [{"name": "req", "type": "httpTrigger", "direction": "in"}, {"name": "$return", "type": "http", "direction": "out"}]}`,
		"queue": `{"disabled": true, "bindings": [{"name": "msg", "type": "queueTrigger", "direction": "in", "dataType": "string"}]}`,
	} {
		if err := os.MkdirAll(filepath.Join(app, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(app, name, "function.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	common := []string{"-q", "--lag-budget", "10s", "--cpu-budget", "400", "-rps", "100", "-d", "1s", "--app", app}
	out := filepath.Join(t.TempDir(), "run")
	r := fbench(t, time.Minute, append(common, "--out", out, wdir)...)
	expectExit(t, r, 0, 3)
	if !strings.Contains(r.stderr, "disabled functions not invoked") || !strings.Contains(r.stderr, "queue") {
		t.Errorf("no notice of the disabled function:\n%s", r.stderr)
	}
	if s := loadSummary(t, out); s.Counts.Succeeded == 0 || len(s.Functions) > 0 {
		t.Errorf("counts %+v, per-function figures for %d functions: want echo alone invoked", s.Counts, len(s.Functions))
	}
	// Named, it is invoked, and that is said.
	r = fbench(t, time.Minute, append(common, "--out", filepath.Join(t.TempDir(), "named"), "--function", "queue", wdir)...)
	expectExit(t, r, 0, 3)
	if !strings.Contains(r.stderr, "function queue is disabled in the app; it is invoked because it was named") {
		t.Errorf("no notice for the named disabled function:\n%s", r.stderr)
	}
	// The app setting disables echo too: nothing is left to invoke.
	r = fbench(t, time.Minute, append(common, "--out", filepath.Join(t.TempDir(), "none"), "--env", "AzureWebJobs.echo.Disabled=true", wdir)...)
	expectExit(t, r, 1)
	expectLine(t, errorLine(t, r), "every loaded function is disabled", "--function")
}
