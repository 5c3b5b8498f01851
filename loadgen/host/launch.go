package host

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	var exe string
	var pre, post []string // arguments before and after the worker path
	var workerPath string
	if fi.IsDir() {
		cfg, err := LoadWorkerConfig(abs)
		if err != nil {
			return nil, err
		}
		c.Config = cfg
		c.WorkerDir = abs
		c.Language = cfg.Description.Language
		c.WorkerIndexing = c.WorkerIndexing || bool(cfg.Description.WorkerIndexing)
		exe = cfg.Description.DefaultExecutablePath
		pre = cfg.Description.Arguments
		workerPath = cfg.Description.DefaultWorkerPath
		post = cfg.Description.WorkerArguments
	} else {
		if fi.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("worker %s: not executable", l.Worker)
		}
		c.WorkerDir = filepath.Dir(abs)
		c.Language = l.Language
		exe = abs
		pre = l.Args
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

	// The child's environment: ours, plus what the host adds, plus --env.
	envMap := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := envMap[k]; !ok {
			order = append(order, k)
		}
		envMap[k] = v
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			set(k, v)
		}
	}
	if c.Language != "" {
		set("FUNCTIONS_WORKER_RUNTIME", c.Language)
	}
	set("FUNCTIONS_WORKER_DIRECTORY", c.WorkerDir)
	set("FUNCTIONS_APPLICATION_DIRECTORY", c.AppDir)
	set("AzureWebJobsScriptRoot", c.AppDir)
	if _, ok := envMap["PYTHON_THREADPOOL_THREAD_COUNT"]; !ok && c.Language == "python" {
		set("PYTHON_THREADPOOL_THREAD_COUNT", "1000")
	}
	if _, ok := envMap["PSWorkerInProcConcurrencyUpperBound"]; !ok && c.Language == "powershell" {
		set("PSWorkerInProcConcurrencyUpperBound", "1000")
	}
	for _, kv := range l.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid --env %q: want KEY=VALUE", kv)
		}
		set(k, v)
	}
	for _, k := range order {
		c.Env = append(c.Env, k+"="+envMap[k])
	}

	// The command line, %VAR% expanded per argument; arguments that expand to nothing are dropped.
	expandAll := func(in []string) []string {
		var out []string
		for _, a := range in {
			if e := expandPercent(a, envMap); e != "" {
				out = append(out, e)
			}
		}
		return out
	}
	exe = expandPercent(exe, envMap)
	if exe == "" {
		return nil, fmt.Errorf("worker %s: defaultExecutablePath expands to nothing", l.Worker)
	}
	c.Path, err = resolveExecutable(exe, c.WorkerDir)
	if err != nil {
		return nil, fmt.Errorf("worker %s: %w", l.Worker, err)
	}
	args := []string{c.Path}
	args = append(args, expandAll(pre)...)
	if workerPath != "" {
		wp := expandPercent(workerPath, envMap)
		if wp != "" && !filepath.IsAbs(wp) {
			wp = filepath.Join(c.WorkerDir, wp)
		}
		if wp != "" {
			args = append(args, wp)
		}
	}
	args = append(args, expandAll(post)...)
	args = append(args, HostArgs(port, workerID, requestID)...)
	c.Args = args
	return c, nil
}

// resolveExecutable finds the executable a worker config names: an absolute path; a relative path
// with a directory part, against the worker directory; a bare name, in the worker directory if it
// is there, else on PATH.
func resolveExecutable(exe, workerDir string) (string, error) {
	check := func(p string) (string, error) {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("executable %s: not found", p)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("executable %s: not executable", p)
		}
		return p, nil
	}
	switch {
	case filepath.IsAbs(exe):
		return check(exe)
	case strings.ContainsRune(exe, filepath.Separator):
		return check(filepath.Join(workerDir, exe))
	}
	if p := filepath.Join(workerDir, exe); fileExists(p) {
		return check(p)
	}
	p, err := exec.LookPath(exe)
	if err != nil {
		return "", fmt.Errorf("executable %q: not found in the worker directory or on PATH", exe)
	}
	return filepath.Abs(p)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
