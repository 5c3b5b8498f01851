package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/loadgen"
)

// Exit code 200 is the host's intentional restart: with --restart-worker the worker is relaunched
// and the run is not called a crash; without, the run ends and says why, naming the flag.
func TestIntentionalRestartExitCode200(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "restart")
	r := fbench(t, time.Minute, runArgs(dir, "-rps", "400", "-d", "2s", "--cpu-budget", "400", "--restart-worker", "--ref", "fault=restart-after=300")...)
	expectExit(t, r, 0, 3)
	s := loadSummary(t, dir)
	if s.Worker.Crashed || s.Worker.Restarts == 0 {
		t.Errorf("crashed %v restarts %d: want a relaunch that is no crash", s.Worker.Crashed, s.Worker.Restarts)
	}
	n := 0
	for _, ev := range s.Events {
		if ev.Kind == loadgen.EventIntentionalRestart {
			n++
		}
		if ev.Kind == "stream_ended" {
			t.Errorf("an exit with code 200 recorded as a broken stream: %s", ev.Detail)
		}
	}
	if n == 0 {
		t.Error("no intentional_restart event")
	}

	dir = filepath.Join(t.TempDir(), "norestart")
	r = fbench(t, time.Minute, runArgs(dir, "-rps", "400", "-d", "2s", "--ref", "fault=restart-after=200")...)
	expectExit(t, r, exitCrashed)
	expectLine(t, errorLine(t, r), "asked for a restart (exit code 200), not a crash", "--restart-worker")
	if s := loadSummary(t, dir); s.Worker.Crashed {
		t.Error("summary calls the intentional restart a crash")
	}
}

// A worker that does not advertise HandlesWorkerTerminateMessage is ended without WorkerTerminate,
// and nothing says it "did not exit on WorkerTerminate".
func TestNoWorkerTerminateWording(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	r := fbench(t, time.Minute, "--out", dir, "--lag-budget", "10s", "--cpu-budget", "400", "-rps", "100", "-d", "1s", "--ref", "mimic=python")
	expectExit(t, r, 0, 3)
	if strings.Contains(r.stdout+r.stderr, "WorkerTerminate within") {
		t.Errorf("a worker never sent WorkerTerminate is said not to have exited on it:\n%s", r.stdout)
	}
	s := loadSummary(t, dir)
	if s.Worker.TerminateSent {
		t.Error("terminate_sent for a worker that does not advertise HandlesWorkerTerminateMessage")
	}
	if !strings.Contains(s.Worker.Ended, "no WorkerTerminate") {
		t.Errorf("worker end %q does not say no WorkerTerminate was sent", s.Worker.Ended)
	}
}
