package runner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fbench/fbench/loadgen/runner"
	"github.com/fbench/fbench/report"
)

// A benchmark run from Go: 500 invocations/s of echo for 10 s against a worker, the progress on
// stderr, the text summary on stdout, and how the run ended told by the error's kind.
func ExampleRun() {
	s := runner.Defaults()
	s.Worker.Command = []string{"./my-worker"}
	s.Rate, s.Duration, s.Function = 500, 10*time.Second, "echo"
	p, err := runner.NewPlan(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err) // one line naming the setting at fault
		return
	}
	oc, err := runner.Run(context.Background(), p, runner.Output{Progress: os.Stderr})
	if oc != nil && oc.Summary != nil {
		_ = report.WriteText(os.Stdout, oc.Summary)
	}
	switch {
	case errors.Is(err, runner.ErrCrashed), errors.Is(err, runner.ErrInvalid):
		fmt.Fprintln(os.Stderr, "do not trust this run:", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
	}
}
