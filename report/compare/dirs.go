package compare

import (
	"encoding/json"
	"fmt"
	"io"
)

// Dirs compares the runs in the directories base and cur (run directories, or
// directories of repeated runs) with the tolerances given as METRIC=VALUE and the extra metrics
// beside the default ones.
func Dirs(base, cur string, tolerances, extra []string, force bool) (*Comparison, error) {
	opt := Options{Tolerances: map[string]Tolerance{}, Force: force}
	for _, t := range tolerances {
		name, tol, err := ParseTolerance(t)
		if err != nil {
			return nil, err
		}
		opt.Tolerances[name] = tol
	}
	if len(extra) > 0 {
		opt.Metrics = append(append([]string{}, DefaultMetrics...), extra...)
	}
	b, err := LoadRunSet(base)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	c, err := LoadRunSet(cur)
	if err != nil {
		return nil, fmt.Errorf("current: %w", err)
	}
	return Runs(b, c, opt)
}

// Write writes the comparison as format says: text, md (Markdown) or json.
func (c *Comparison) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(c)
	case "md":
		return c.WriteMarkdown(w)
	}
	return c.WriteText(w)
}
