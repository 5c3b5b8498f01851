package host

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A standby host launches the worker in the standby directory with WEBSITE_PLACEHOLDER_MODE=1 and
// none of the app's settings; the reload carries the app's environment: its settings, the app
// directory, WEBSITE_PLACEHOLDER_MODE=0, and no empty values.
func TestPlaceholderLaunchAndReloadEnvironment(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	app := t.TempDir()
	t.Setenv("FBENCH_TEST_EMPTY", "")
	l := Launch{Worker: exe, Language: "node", AppDir: app, Env: []string{"APP_SETTING=1", "ALSO_EMPTY="}}
	standby := filepath.Join(t.TempDir(), StandbyDirName)
	pl, err := PlaceholderLaunch(l, standby)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(standby); err != nil || !st.IsDir() {
		t.Fatalf("standby directory not created: %v", err)
	}
	cmd, err := Resolve(pl, 7071, "w", "r")
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Dir != standby || !slices.Contains(cmd.Env, "WEBSITE_PLACEHOLDER_MODE=1") || !slices.Contains(cmd.Env, "FUNCTIONS_APPLICATION_DIRECTORY="+standby) ||
		slices.Contains(cmd.Env, "APP_SETTING=1") {
		t.Errorf("standby launch: dir %s, env has placeholder mode %v, app dir %v, app setting %v", cmd.Dir,
			slices.Contains(cmd.Env, "WEBSITE_PLACEHOLDER_MODE=1"), slices.Contains(cmd.Env, "FUNCTIONS_APPLICATION_DIRECTORY="+standby),
			slices.Contains(cmd.Env, "APP_SETTING=1"))
	}
	env, dir, err := ReloadEnvironment(l, "w")
	if err != nil {
		t.Fatal(err)
	}
	if dir != app || env["APP_SETTING"] != "1" || env["WEBSITE_PLACEHOLDER_MODE"] != "0" || env["FUNCTIONS_APPLICATION_DIRECTORY"] != app ||
		env["AzureWebJobsScriptRoot"] != app || env["FUNCTIONS_WORKER_RUNTIME"] != "node" || env["PATH"] != os.Getenv("PATH") {
		t.Errorf("reload environment: dir %s, %v", dir, env)
	}
	for k, v := range env {
		if v == "" || strings.HasPrefix(k, "FBENCH_TEST_EMPTY") || k == "ALSO_EMPTY" {
			t.Errorf("empty value %s kept", k)
		}
	}
	// The app's settings may say otherwise.
	l.Env = append(l.Env, "WEBSITE_PLACEHOLDER_MODE=2")
	if env, _, _ := ReloadEnvironment(l, "w"); env["WEBSITE_PLACEHOLDER_MODE"] != "2" {
		t.Errorf("WEBSITE_PLACEHOLDER_MODE %q", env["WEBSITE_PLACEHOLDER_MODE"])
	}
	if !strings.HasSuffix(StandbyDir(), `/functions\standby\wwwroot`) {
		t.Errorf("StandbyDir %s", StandbyDir())
	}
}

// The reload timeout comes from worker.config.json's processOptions.environmentReloadTimeout (Node
// sets 2 minutes), else the host's 30 s.
func TestReloadTimeout(t *testing.T) {
	dir := t.TempDir()
	cfg := `{"description":{"language":"node","defaultExecutablePath":"` + must(os.Executable()) + `"},"processOptions":{"environmentReloadTimeout":"00:02:00"}}`
	if err := os.WriteFile(filepath.Join(dir, WorkerConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, err := Resolve(Launch{Worker: dir}, 1, "w", "r")
	if err != nil {
		t.Fatal(err)
	}
	if got := (&Worker{Command: cmd}).ReloadTimeout(); got.Minutes() != 2 {
		t.Errorf("reload timeout %s, want 2m", got)
	}
	cmd.Config = nil
	if got := (&Worker{Command: cmd}).ReloadTimeout(); got != DefaultReloadTimeout {
		t.Errorf("reload timeout %s, want %s", got, DefaultReloadTimeout)
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}
