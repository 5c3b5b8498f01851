package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Names of the files of a run directory.
const (
	RunFile         = "run.json"
	HlogFile        = "latency.hlog"
	IntervalsFile   = "intervals.jsonl"
	SummaryFile     = "summary.json"
	IntervalsCSV    = "intervals.csv"
	PercentilesCSV  = "percentiles.csv"
	HTMLFile        = "report.html"
	filePerm        = 0o640
	dirPerm         = 0o750
	tempInfix       = ".tmp-"
	summaryMaxBytes = 64 << 20
)

// writeFileAtomic writes path through a temporary file in the same directory renamed over it, so a
// reader sees the old file or the new one, never a partial one.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := createTemp(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := write(bw); err != nil {
		discardTemp(f)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		discardTemp(f)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return commitTemp(f, path)
}

// createTemp creates the temporary file that will become path: ".NAME.tmp-RANDOM" in its directory.
func createTemp(path string) (*os.File, error) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+name+tempInfix+"*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return f, nil
}

// commitTemp syncs and closes f and renames it to path.
func commitTemp(f *os.File, path string) error {
	err := errors.Join(f.Chmod(filePerm), f.Sync())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func discardTemp(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// removeStaleTemps removes temporary files a killed fbench left in dir.
func removeStaleTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, ".") && strings.Contains(n, tempInfix) {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
}

func writeJSONAtomic(path string, v any) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// WriteSummaryFile writes s as JSON to path atomically (e.g. after filling SLOs or verdicts).
func WriteSummaryFile(path string, s *Summary) error { return writeJSONAtomic(path, s) }

// LoadSummary reads a summary.json.
func LoadSummary(path string) (*Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var s Summary
	dec := json.NewDecoder(io.LimitReader(f, summaryMaxBytes))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if s.Schema != SummarySchema {
		return nil, fmt.Errorf("read %s: schema %q, want %q", path, s.Schema, SummarySchema)
	}
	return &s, nil
}

// LoadMeta reads a run.json.
func LoadMeta(path string) (Meta, error) {
	var m Meta
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("read %s: %w", path, err)
	}
	if m.Schema != RunSchema {
		return m, fmt.Errorf("read %s: schema %q, want %q", path, m.Schema, RunSchema)
	}
	return m, nil
}
