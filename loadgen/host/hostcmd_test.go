package host

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// shippedFiles are the files each worker of testdata/workers ships, as its package lays them out
// (the host requires defaultWorkerPath to exist).
var shippedFiles = map[string][]string{
	"node":            {"dist/src/nodejsWorker.js"},
	"python":          {"3.11/LINUX/X64/worker.py", "3.12/LINUX/X64/worker.py", "3.11/OSX/Arm64/worker.py"},
	"java":            {"azure-functions-java-worker.jar", "agent/applicationinsights-agent.jar"},
	"powershell":      {"7/Microsoft.Azure.Functions.PowerShellWorker.dll", "7.2/Microsoft.Azure.Functions.PowerShellWorker.dll"},
	"dotnet-isolated": {"MyApp.dll"},
}

// layWorker copies testdata/workers/NAME/worker.config.json into a fresh directory with the files
// the worker ships, and returns the directory.
func layWorker(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	cfg, err := os.ReadFile(filepath.Join("testdata", "workers", name, WorkerConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, WorkerConfigFile), string(cfg), 0o644)
	for _, f := range shippedFiles[name] {
		writeFile(t, filepath.Join(dir, f), "", 0o644)
	}
	return dir
}

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

// standInExecutables puts node, python and dotnet stand-ins on PATH and java under a JAVA_HOME,
// so that the host's executable resolution finds them; it returns JAVA_HOME.
func standInExecutables(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for _, n := range []string{"node", "python", "dotnet"} {
		writeFile(t, filepath.Join(bin, n), "#!/bin/sh\n", 0o755)
	}
	t.Setenv("PATH", bin)
	javaHome := t.TempDir()
	writeFile(t, filepath.Join(javaHome, "bin", "java"), "#!/bin/sh\n", 0o755)
	return javaHome
}

// TestShippedConfigArgv compares the argv fbench builds for each shipped worker.config.json with
// the argv the host builds (testdata/argv/*.json, written from the host's pipeline: the
// one-string command line, split as .NET splits it on Unix).
func TestShippedConfigArgv(t *testing.T) {
	javaHome := standInExecutables(t)
	for _, v := range []string{"JAVA_OPTS", "AZURE_FUNCTIONS_MESH_JAVA_OPTS", "APPLICATIONINSIGHTS_ENABLE_AGENT", envRuntimeVersion, "FUNCTIONS_WORKER_RUNTIME"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	cases, _ := filepath.Glob(filepath.Join("testdata", "argv", "*.json"))
	if len(cases) < 8 {
		t.Fatalf("%d argv cases, want every shipped config", len(cases))
	}
	const port, wid, rid = 45678, "11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"
	for _, path := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			var tc struct {
				Worker string
				Env    map[string]string
				Argv   []string
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &tc); err != nil {
				t.Fatal(err)
			}
			dir := layWorker(t, tc.Worker)
			subst := strings.NewReplacer("$W", dir, "$JAVA_HOME", javaHome)
			var env []string
			for k, v := range tc.Env {
				env = append(env, k+"="+subst.Replace(v))
			}
			var want []string
			for _, a := range tc.Argv {
				if a == "$HOSTARGS" {
					want = append(want, HostArgs(port, wid, rid)...)
				} else {
					want = append(want, subst.Replace(a))
				}
			}
			c, err := Resolve(Launch{Worker: dir, Env: env, Platform: &Platform{OS: "LINUX", Arch: "X64"}}, port, wid, rid)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Args, want) {
				t.Fatalf("argv\n got %q\nwant %q\ncommand line %q", c.Args, want, c.CommandLine)
			}
			if !filepath.IsAbs(c.Path) || filepath.Base(c.Path) != filepath.Base(want[0]) {
				t.Errorf("resolved executable %q for %q", c.Path, want[0])
			}
			// The host always sets FUNCTIONS_WORKER_RUNTIME_VERSION in the child, from its own.
			wantVer := envRuntimeVersion + "=" + tc.Env[envRuntimeVersion]
			if !slices.Contains(c.Env, wantVer) {
				t.Errorf("worker environment lacks %s", wantVer)
			}
		})
	}
}

func TestSplitArgsDotNet(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{``, nil},
		{`  a  b	c `, []string{"a", "b", "c"}},
		{`"a b" c`, []string{"a b", "c"}},
		{`-javaagent:"/w/agent/x.jar" -jar`, []string{"-javaagent:/w/agent/x.jar", "-jar"}},
		{`""`, []string{""}},
		{`a "" b`, []string{"a", "", "b"}},
		{`"a ""quoted"" b"`, []string{`a "quoted" b`}},
		{`a\\b`, []string{`a\\b`}},
		{`a\\"b c"`, []string{`a\b c`}},
		{`a\"b`, []string{`a"b`}},
		{`a\\\"b`, []string{`a\"b`}},
		{"line1\nline2 x", []string{"line1\nline2", "x"}},
		{`"unterminated x`, []string{"unterminated x"}},
	} {
		if got := SplitArgsDotNet(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SplitArgsDotNet(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExpandEnvironmentVariables(t *testing.T) {
	env := map[string]string{"A": "x", "B": "%A%", "E": ""}
	for _, tc := range []struct{ in, want string }{
		{"%A%", "x"},
		{"%B%", "%A%"},       // no recursion
		{"%NOPE%", "%NOPE%"}, // unknown: kept (the host removes it from arguments later)
		{"%NOPE%A%", "%NOPEx"},
		{"50%", "50%"},
		{"%E%-", "-"},
		{"a%%b", "a%%b"},
	} {
		if got := expandEnvironmentVariables(tc.in, env); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestBadWorkerConfig: a config the host would drop gets one line naming the file and the field.
func TestBadWorkerConfig(t *testing.T) {
	standInExecutables(t)
	os.Unsetenv(envRuntimeVersion)
	x64 := &Platform{OS: "LINUX", Arch: "X64"}
	for _, tc := range []struct {
		name   string
		worker string
		edit   func(cfg string) string
		env    []string
		plat   *Platform
		want   []string
	}{
		{"missing runtime version", "powershell", nil, nil, x64,
			[]string{"description.defaultRuntimeVersion", "missing", "FUNCTIONS_WORKER_RUNTIME_VERSION"}},
		{"runtime version not shipped", "python", nil, []string{"FUNCTIONS_WORKER_RUNTIME_VERSION=3.10"}, x64,
			[]string{"description.defaultWorkerPath", "3.10/LINUX/X64/worker.py does not exist", "ships 3.11, 3.12"}},
		{"unsupported runtime version", "python", nil, []string{"FUNCTIONS_WORKER_RUNTIME_VERSION=4.0"}, x64,
			[]string{"description.supportedRuntimeVersions", `"4.0"`}},
		{"version the python config cannot sanitise", "python", nil, []string{"FUNCTIONS_WORKER_RUNTIME_VERSION=~3.11"}, x64,
			[]string{"description.supportedRuntimeVersions", `"~3.11"`}},
		{"sanitiser without a match", "powershell", nil, []string{"FUNCTIONS_WORKER_RUNTIME_VERSION=latest"}, x64,
			[]string{"description.sanitizeRuntimeVersionRegex", `"latest"`}},
		{"unknown placeholder", "python", func(c string) string { return strings.Replace(c, "{architecture}", "{arch}", 1) }, nil, x64,
			[]string{"description.defaultWorkerPath", "unknown placeholder {arch}"}},
		{"unsupported OS", "python", nil, nil, &Platform{OS: "FREEBSD", Arch: "X64"},
			[]string{"description.supportedOperatingSystems", "FREEBSD"}},
		{"unsupported architecture", "python", nil, nil, &Platform{OS: "LINUX", Arch: "S390x"},
			[]string{"description.supportedArchitectures", "S390x"}},
		{"architecture not shipped", "python", nil, nil, &Platform{OS: "LINUX", Arch: "Arm64"},
			[]string{"description.defaultWorkerPath", "3.11/LINUX/Arm64/worker.py does not exist"}},
		{"disabled", "node", func(c string) string { return strings.Replace(c, `"language"`, `"isDisabled": "true", "language"`, 1) }, nil, x64,
			[]string{"description.isDisabled"}},
		{"executable missing", "node", func(c string) string {
			return strings.Replace(c, `"defaultExecutablePath": "node"`, `"defaultExecutablePath": "nodejs-nope"`, 1)
		}, nil, x64,
			[]string{"description.defaultExecutablePath", `"nodejs-nope" not found`}},
		{"bad profile expression", "java", func(c string) string { return strings.Replace(c, `(?i)true$`, `(?<x>true`, 1) }, []string{"JAVA_HOME=/j"}, x64,
			[]string{"profiles[0].conditions[0].conditionExpression"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := layWorker(t, tc.worker)
			if tc.edit != nil {
				p := filepath.Join(dir, WorkerConfigFile)
				b, _ := os.ReadFile(p)
				writeFile(t, p, tc.edit(string(b)), 0o644)
			}
			_, err := Resolve(Launch{Worker: dir, Env: tc.env, Platform: tc.plat}, 1, "w", "r")
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			oneLineErr(t, err)
			for _, w := range append([]string{filepath.Join(dir, WorkerConfigFile) + ": "}, tc.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestWorkerArgumentsIgnoredAndProfileDropsIndexing(t *testing.T) {
	standInExecutables(t)
	dir := layWorker(t, "node")
	cfg := `{"description": {"language": "node", "defaultExecutablePath": "node", "defaultWorkerPath": "dist/src/nodejsWorker.js",
  "workerArguments": ["--inspect"], "workerIndexing": "true"},
  "profiles": [{"profileName": "linux", "conditions": [{"conditionType": "hostProperty", "conditionName": "platform", "conditionExpression": "^LINUX$"}],
    "description": {"arguments": ["--max-old-space-size=2048"]}}]}`
	writeFile(t, filepath.Join(dir, WorkerConfigFile), cfg, 0o644)
	c, err := Resolve(Launch{Worker: dir, Platform: &Platform{OS: "LINUX", Arch: "X64"}}, 1, "w", "r")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(c.Args, "--inspect") {
		t.Errorf("workerArguments passed: %q", c.Args)
	}
	if c.Args[1] != "--max-old-space-size=2048" || c.Profile != "linux" {
		t.Errorf("profile not applied: %q (profile %q)", c.Args, c.Profile)
	}
	if c.WorkerIndexing {
		t.Error("a matching profile drops workerIndexing, as the host's does")
	}
	if len(c.Notices) != 2 {
		t.Errorf("notices %q: want the ignored workerArguments and the profile", c.Notices)
	}
	// Another platform: the profile does not hold, the description stays.
	c, err = Resolve(Launch{Worker: dir, Platform: &Platform{OS: "OSX", Arch: "Arm64"}}, 1, "w", "r")
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile != "" || !c.WorkerIndexing || c.Args[1] != filepath.Join(dir, "dist/src/nodejsWorker.js") {
		t.Errorf("profile applied off its platform: %q", c.Args)
	}
}

func TestEnvUnsetAndClean(t *testing.T) {
	t.Setenv("CONTAINER_NAME", "ci-runner")
	t.Setenv("FBENCH_KEEP", "1")
	exe, _ := os.Executable()
	app := t.TempDir()
	get := func(env []string, k string) (string, bool) {
		for _, kv := range env {
			if kk, v, _ := strings.Cut(kv, "="); kk == k {
				return v, true
			}
		}
		return "", false
	}
	c, err := Resolve(Launch{Worker: exe, AppDir: app, Language: "python", EnvUnset: []string{"CONTAINER_NAME"}}, 1, "w", "r")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := get(c.Env, "CONTAINER_NAME"); ok {
		t.Error("--env-unset CONTAINER_NAME: still inherited")
	}
	if v, _ := get(c.Env, "FBENCH_KEEP"); v != "1" {
		t.Error("--env-unset removed another variable")
	}
	c, err = Resolve(Launch{Worker: exe, AppDir: app, Language: "python", EnvClean: true, Env: []string{"PATH=/x"}}, 1, "w", "r")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range c.Env {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"AzureWebJobsScriptRoot", "FUNCTIONS_APPLICATION_DIRECTORY", "FUNCTIONS_WORKER_DIRECTORY",
		"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_WORKER_RUNTIME_VERSION", "PATH", "PYTHON_THREADPOOL_THREAD_COUNT"}
	if !slices.Equal(keys, want) {
		t.Errorf("--env-clean environment %q, want only %q", keys, want)
	}
	if _, err := Resolve(Launch{Worker: exe, EnvUnset: []string{"A=B"}}, 1, "w", "r"); err == nil {
		t.Error("--env-unset A=B accepted")
	}
}

// TestBareExecutableAsksTheWorker: with no worker.config.json and no function.json, discovery
// starts with the worker; a function.json makes it the host's again.
func TestBareExecutableAsksTheWorker(t *testing.T) {
	exe, _ := os.Executable()
	app := t.TempDir()
	c, err := Resolve(Launch{Worker: exe, AppDir: app}, 1, "w", "r")
	if err != nil {
		t.Fatal(err)
	}
	if !c.WorkerIndexing || c.IndexingRule == "" {
		t.Fatalf("bare executable without function.json: indexing %v, rule %q", c.WorkerIndexing, c.IndexingRule)
	}
	writeFunctionJSON(t, app, "echo", echoFunctionJSON)
	if c, err = Resolve(Launch{Worker: exe, AppDir: app}, 1, "w", "r"); err != nil || c.WorkerIndexing {
		t.Fatalf("with function.json: indexing %v, err %v", c.WorkerIndexing, err)
	}
}

func TestManagedDependencyAndDisabledSetting(t *testing.T) {
	app := t.TempDir()
	if on, err := managedDependencyEnabled(app); on || err != nil {
		t.Fatalf("no host.json: %v %v", on, err)
	}
	writeFile(t, filepath.Join(app, "host.json"), `{"version": "2.0", "managedDependency": {"enabled": true}}`, 0o644)
	if on, err := managedDependencyEnabled(app); !on || err != nil {
		t.Fatalf("managedDependency.enabled true: %v %v", on, err)
	}
	writeFile(t, filepath.Join(app, "host.json"), `{"version": "2.0",`, 0o644)
	if _, err := managedDependencyEnabled(app); err == nil || !strings.Contains(err.Error(), "host.json") {
		t.Fatalf("invalid host.json: %v", err)
	}
	env := []string{"AZUREWEBJOBS.Echo.DISABLED=true", "AzureWebJobs.work.Disabled=false", "AzureWebJobs.fail.Disabled=1"}
	for name, want := range map[string]bool{"echo": true, "work": false, "fail": true, "queue": false} {
		if got := disabledBySetting(name, env); got != want {
			t.Errorf("disabledBySetting(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestFunctionJSONRetry(t *testing.T) {
	app := t.TempDir()
	writeFunctionJSON(t, app, "q", `{"retry": {"strategy": "fixedDelay", "maxRetryCount": 4, "delayInterval": "00:00:10"},
  "bindings": [{"name": "msg", "type": "queueTrigger", "direction": "in"}]}`)
	fns, err := ScanFunctionJSON(app, func() string { return "id" })
	if err != nil {
		t.Fatal(err)
	}
	if r := fns[0].Retry; r == nil || r.MaxRetryCount != 4 || r.DelayInterval.AsDuration().Seconds() != 10 {
		t.Fatalf("retry %v", r)
	}
	writeFunctionJSON(t, app, "q", `{"retry": {"strategy": "sometimes"}, "bindings": [{"name": "msg", "type": "queueTrigger"}]}`)
	if _, err := ScanFunctionJSON(app, func() string { return "id" }); err == nil || !strings.Contains(err.Error(), "retry.strategy") {
		t.Fatalf("bad retry accepted: %v", err)
	}
}
