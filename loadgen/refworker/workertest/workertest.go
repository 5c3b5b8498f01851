package workertest

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The environment of a test binary re-executed as the reference worker.
const (
	workerVar  = "FBENCH_TEST_WORKER"  // "1": run the worker, not the tests
	refArgsVar = "FBENCH_TEST_REFARGS" // the worker's own flags, blank-separated
	dumpVar    = "FBENCH_TEST_DUMP"    // a file the worker first writes Launched to
)

// A Role is a part the test binary plays instead of running the tests.
type Role struct {
	// Env names the variable that selects the role when it is "1".
	Env string
	// Verb, when not empty, must also be the first argument; it is not passed on to Run.
	Verb string
	// Run is the role's main: it gets the arguments (after Verb) and returns the exit code.
	Run func(args []string) int
}

// Main is a package's TestMain: it runs the first role the environment selects, in the order
// given, and exits with its code; otherwise it runs the tests.
func Main(m *testing.M, roles ...Role) {
	args := os.Args[1:]
	for _, r := range roles {
		if os.Getenv(r.Env) != "1" {
			continue
		}
		if r.Verb == "" {
			os.Exit(r.Run(args))
		}
		if len(args) > 0 && args[0] == r.Verb {
			os.Exit(r.Run(args[1:]))
		}
	}
	os.Exit(m.Run())
}

// Worker is the role of a worker launched as the host launches one: run is its main (the
// reference worker's is refworker.Main), called with the flags of FBENCH_TEST_REFARGS followed by
// the host's arguments (everything from --host on; what the launch put before them is dropped).
// When FBENCH_TEST_DUMP names a file, the worker first writes how it was launched there (Launched).
func Worker(run func(args []string, stdout, stderr io.Writer) int) Role {
	return Role{Env: workerVar, Run: func(args []string) int {
		if path := os.Getenv(dumpVar); path != "" {
			cwd, _ := os.Getwd()
			b, _ := json.Marshal(Launched{Args: os.Args, Env: os.Environ(), Cwd: cwd})
			_ = os.WriteFile(path, b, 0o600)
		}
		i := slices.Index(args, "--host")
		if i < 0 {
			i = len(args)
		}
		ref := strings.Fields(os.Getenv(refArgsVar))
		return run(append(ref, args[i:]...), os.Stdout, os.Stderr)
	}}
}

// Launched is how a worker was launched: its argv, environment and working directory.
type Launched struct {
	Args []string
	Env  []string
	Cwd  string
}

// DumpTo is the environment entry that makes the worker write Launched, as JSON, to path.
func DumpTo(path string) string { return dumpVar + "=" + path }

// Executable is the test binary: the program to launch as the worker.
func Executable(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// Env is the environment that makes the launched test binary the reference worker with refArgs
// (its flags, blank-separated), to add to what the launch passes on.
func Env(refArgs string) []string {
	return []string{workerVar + "=1", refArgsVar + "=" + refArgs}
}

// Setenv puts Env(refArgs) in the test process's own environment (until the test ends), for
// launches that pass on only what they inherit.
func Setenv(t testing.TB, refArgs string) {
	t.Helper()
	t.Setenv(workerVar, "1")
	t.Setenv(refArgsVar, refArgs)
}

// Command is the test binary as the reference worker, for a test that starts the process itself.
// args are the worker's: its own flags (which must hold no blanks), then the host's from --host on.
func Command(args ...string) *exec.Cmd {
	i := slices.Index(args, "--host")
	if i < 0 {
		i = len(args)
	}
	for _, a := range args[:i] {
		if strings.ContainsAny(a, " \t\n") {
			panic("workertest.Command: the worker's flag " + strconv.Quote(a) + " holds a blank")
		}
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, args[i:]...)
	cmd.Env = append(os.Environ(), Env(strings.Join(args[:i], " "))...)
	return cmd
}
