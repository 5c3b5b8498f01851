package host

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Indexing says how functions are discovered.
type Indexing string

const (
	IndexingAuto   Indexing = "auto"   // worker indexing when worker.config.json says so, else function.json
	IndexingWorker Indexing = "worker" // FunctionsMetadataRequest (falls back to function.json when the worker asks)
	IndexingHost   Indexing = "host"   // scan APP/*/function.json
)

// ParseIndexing validates an --indexing value.
func ParseIndexing(s string) (Indexing, error) {
	switch Indexing(s) {
	case IndexingAuto, IndexingWorker, IndexingHost:
		return Indexing(s), nil
	}
	return "", fmt.Errorf("invalid indexing %q: want auto, worker or host", s)
}

// Launch describes the worker process to start.
type Launch struct {
	// Worker is an executable, or a directory holding worker.config.json.
	Worker string
	// Args are extra arguments placed before the host's arguments (executables only).
	Args []string
	// Language is FUNCTIONS_WORKER_RUNTIME for an executable worker (a worker config gives its own).
	Language string
	// AppDir is the function app directory (the worker's cwd); default: the worker directory.
	AppDir string
	// Env holds extra KEY=VALUE pairs, applied last.
	Env []string
	// WorkerIndexing forces worker indexing for an executable (a worker config says it itself).
	WorkerIndexing bool
	// EnvUnset removes variables from the environment the worker inherits; EnvClean passes none
	// (the worker then has only what the host sets, plus Env).
	EnvUnset []string
	EnvClean bool
	// Platform replaces {os} and {architecture} (nil: the machine's, as the host names it).
	Platform *Platform
	// HostVersion is what a profile's HostVersion condition sees (default DefaultHostVersion).
	HostVersion string
}

// Command is a fully resolved worker command line, ready to start.
type Command struct {
	Path      string   // absolute path of the executable
	Args      []string // argv, Args[0] included
	Dir       string   // working directory (the function app directory)
	Env       []string
	WorkerDir string // FUNCTIONS_WORKER_DIRECTORY
	AppDir    string // FUNCTIONS_APPLICATION_DIRECTORY
	Language  string
	// WorkerIndexing is true when discovery starts with FunctionsMetadataRequest.
	WorkerIndexing bool
	Config         *WorkerConfig // nil for an executable worker
	// CommandLine is the one string the host builds (executable and arguments) before splitting.
	CommandLine    string
	RuntimeVersion string   // what replaced %FUNCTIONS_WORKER_RUNTIME_VERSION% in the worker path
	Profile        string   // the worker.config.json profile applied
	Notices        []string // what fbench must say before measuring (ignored fields, profiles)
	// IndexingRule says why discovery starts with the worker when no configuration said so.
	IndexingRule string
}

// HostArgs returns the arguments the host appends to every worker command line, in its order
// (legacy set, then the --functions-* set; --functions-uri ends with '/').
func HostArgs(port int, workerID, requestID string) []string {
	p := strconv.Itoa(port)
	max := strconv.Itoa(MaxMessageLength)
	return []string{
		"--host", "127.0.0.1", "--port", p, "--workerId", workerID, "--requestId", requestID,
		"--grpcMaxMessageLength", max,
		"--functions-uri", "http://127.0.0.1:" + p + "/", "--functions-worker-id", workerID,
		"--functions-request-id", requestID, "--functions-grpc-max-message-length", max,
	}
}

var percentVar = regexp.MustCompile(`%([^%\s]+)%`)

// expandPercent replaces %VAR% tokens with values from env (the child's environment); unresolved
// tokens are removed, as the host does. The result stays one argument: nothing is split or
// interpreted by a shell, so a value cannot inject arguments.
func expandPercent(s string, env map[string]string) string {
	return percentVar.ReplaceAllStringFunc(s, func(tok string) string {
		return env[tok[1:len(tok)-1]]
	})
}

// Resolve turns a Launch into the command the host would run, without starting anything.
// port/workerID/requestID are the values the host passes.
//
// A directory goes through the host's worker.config.json pipeline (buildHostCommand). An
// executable gets Args, then the host's arguments, as separate argv entries.
func Resolve(l Launch, port int, workerID, requestID string) (*Command, error) {
	if l.Worker == "" {
		return nil, errors.New("no worker given")
	}
	abs, err := filepath.Abs(l.Worker)
	if err != nil {
		return nil, fmt.Errorf("worker %s: %w", l.Worker, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("worker %s: not found", l.Worker)
		}
		return nil, fmt.Errorf("worker %s: %w", l.Worker, err)
	}
	c := &Command{WorkerIndexing: l.WorkerIndexing}
	if fi.IsDir() {
		cfg, err := LoadWorkerConfig(abs)
		if err != nil {
			return nil, err
		}
		c.Config = cfg
		c.WorkerDir = abs
		c.Language = cfg.Description.Language
	} else {
		if fi.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("worker %s: not executable", l.Worker)
		}
		c.WorkerDir = filepath.Dir(abs)
		c.Language = l.Language
	}
	c.AppDir = c.WorkerDir
	if l.AppDir != "" {
		if c.AppDir, err = filepath.Abs(l.AppDir); err != nil {
			return nil, fmt.Errorf("app directory %s: %w", l.AppDir, err)
		}
		if st, err := os.Stat(c.AppDir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("app directory %s: not a directory", l.AppDir)
		}
	}
	c.Dir = c.AppDir

	env, err := workerEnvironment(l, c)
	if err != nil {
		return nil, err
	}
	c.Env = env.child

	if c.Config != nil {
		plat := CurrentPlatform()
		if l.Platform != nil {
			plat = *l.Platform
		}
		hv := l.HostVersion
		if hv == "" {
			hv = DefaultHostVersion
		}
		hc, err := buildHostCommand(c.Config, hostCommandInput{
			ConfigPath: filepath.Join(abs, WorkerConfigFile), WorkerDir: abs, HostEnv: env.host,
			Platform: plat, HostVersion: hv, HostArgs: HostArgs(port, workerID, requestID),
			ContextVars: [][2]string{
				{"FUNCTIONS_WORKER_DIRECTORY", c.WorkerDir}, {"FUNCTIONS_APPLICATION_DIRECTORY", c.AppDir},
				{envRuntimeVersion, env.host[envRuntimeVersion]},
			},
		})
		if err != nil {
			return nil, err
		}
		c.Language = hc.Description.Language
		// A matching profile drops workerIndexing, as the host's does.
		c.WorkerIndexing = c.WorkerIndexing || bool(hc.Description.WorkerIndexing)
		c.RuntimeVersion, c.Profile, c.Notices = hc.RuntimeVersion, hc.Profile, hc.Notices
		c.CommandLine = hc.FileName + hc.Arguments
		c.Path, err = resolveExecutable(hc.FileName)
		if err != nil {
			return nil, fmt.Errorf("%s: description.defaultExecutablePath: %w", filepath.Join(abs, WorkerConfigFile), err)
		}
		c.Args = hc.Argv
		return c, nil
	}

	// An executable: its arguments, %VAR% expanded one by one (never split), then the host's.
	c.Path = abs
	args := []string{abs}
	for _, a := range l.Args {
		if e := expandPercent(a, env.host); e != "" {
			args = append(args, e)
		}
	}
	c.Args = append(args, HostArgs(port, workerID, requestID)...)
	c.CommandLine = strings.Join(c.Args, " ")
	if !c.WorkerIndexing && !hasFunctionJSON(c.AppDir) {
		// No worker.config.json to say how functions are found and no function.json to find
		// them: the worker can only index its own.
		c.WorkerIndexing = true
		c.IndexingRule = "no worker.config.json and no function.json under " + c.AppDir + ": fbench asks the worker for its functions (worker indexing)"
	}
	return c, nil
}

// hasFunctionJSON reports whether appDir holds any */function.json.
func hasFunctionJSON(appDir string) bool {
	m, _ := filepath.Glob(filepath.Join(appDir, "*", "function.json"))
	return len(m) > 0
}

// environments are the host's own environment (what the worker inherits, after --env-unset or
// --env-clean, with --env) and the worker's (that plus what the host sets).
type environments struct {
	host  map[string]string
	child []string
}

// workerEnvironment builds the worker's environment as the host does: the host's own (fbench's,
// less --env-unset; nothing with --env-clean), the variables the host sets, and --env last.
func workerEnvironment(l Launch, c *Command) (environments, error) {
	var extra [][2]string
	for _, kv := range l.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return environments{}, fmt.Errorf("invalid --env %q: want KEY=VALUE", kv)
		}
		extra = append(extra, [2]string{k, v})
	}
	for _, k := range l.EnvUnset {
		if k == "" || strings.Contains(k, "=") {
			return environments{}, fmt.Errorf("invalid --env-unset %q: want a variable name", k)
		}
	}
	envMap := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := envMap[k]; !ok {
			order = append(order, k)
		}
		envMap[k] = v
	}
	if !l.EnvClean {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok && !slices.Contains(l.EnvUnset, k) {
				set(k, v)
			}
		}
	}
	for _, kv := range extra {
		set(kv[0], kv[1])
	}
	host := maps.Clone(envMap)
	if c.Language != "" {
		set("FUNCTIONS_WORKER_RUNTIME", c.Language)
		if _, ok := host["FUNCTIONS_WORKER_RUNTIME"]; !ok {
			host["FUNCTIONS_WORKER_RUNTIME"] = c.Language // the host runs this language
		}
	}
	set("FUNCTIONS_WORKER_DIRECTORY", c.WorkerDir)
	set("FUNCTIONS_APPLICATION_DIRECTORY", c.AppDir)
	set("AzureWebJobsScriptRoot", c.AppDir)
	// The host always sets it from its own environment: present, and empty when it has none.
	set(envRuntimeVersion, host[envRuntimeVersion])
	if _, ok := envMap["PYTHON_THREADPOOL_THREAD_COUNT"]; !ok && c.Language == "python" {
		set("PYTHON_THREADPOOL_THREAD_COUNT", "1000")
	}
	if _, ok := envMap["PSWorkerInProcConcurrencyUpperBound"]; !ok && c.Language == "powershell" {
		set("PSWorkerInProcConcurrencyUpperBound", "1000")
	}
	for _, kv := range extra {
		set(kv[0], kv[1])
	}
	var child []string
	for _, k := range order {
		child = append(child, k+"="+envMap[k])
	}
	return environments{host: host, child: child}, nil
}

// resolveExecutable finds the executable as .NET's Process does on Unix for the host: a rooted
// path as it is; otherwise the first of the host's own directory (fbench's), its current
// directory, then each PATH entry (fbench's PATH, not the worker's), that is an executable file.
// The worker directory is not searched.
func resolveExecutable(exe string) (string, error) {
	if filepath.IsAbs(exe) {
		fi, err := os.Stat(exe)
		if err != nil {
			return "", fmt.Errorf("%s: not found", exe)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s: not executable", exe)
		}
		return exe, nil
	}
	var dirs []string
	if self, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(self))
	}
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	for _, p := range filepath.SplitList(os.Getenv("PATH")) {
		if p != "" {
			dirs = append(dirs, p)
		}
	}
	for i, d := range dirs {
		p := filepath.Join(d, exe)
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		if i >= 2 && fi.Mode()&0o111 == 0 {
			continue // PATH candidates must be executable
		}
		return filepath.Abs(p)
	}
	return "", fmt.Errorf("executable %q not found in fbench's directory, its working directory or PATH (where the host looks; not the worker directory)", exe)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
