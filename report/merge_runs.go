package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ExpandRuns replaces an argument that is a directory of runs (no run.json of its own, but
// subdirectories with one) by those runs, in name order. Anything else stays, for Merge to judge.
func ExpandRuns(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if _, err := os.Stat(filepath.Join(a, RunFile)); err == nil {
			out = append(out, a)
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			out = append(out, a)
			continue
		}
		var subs []string
		for _, e := range entries {
			if _, err := os.Stat(filepath.Join(a, e.Name(), RunFile)); e.IsDir() && err == nil {
				subs = append(subs, filepath.Join(a, e.Name()))
			}
		}
		if len(subs) == 0 {
			out = append(out, a)
		}
		out = append(out, subs...)
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("merge needs two or more runs, found %d in %s", len(out), strings.Join(args, " "))
	}
	return out, nil
}
