package main

import (
	"io"

	"github.com/fbench/fbench/loadgen/refworker"
)

// cmdWorker runs the built-in reference worker (fbench launches it as a child process).
func cmdWorker(args []string, stdout, stderr io.Writer) int {
	return refworker.Main(args, stdout, stderr)
}
