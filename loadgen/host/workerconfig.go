package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// WorkerConfigFile is the file a worker directory holds to say how the host launches it.
const WorkerConfigFile = "worker.config.json"

// WorkerConfig is the part of worker.config.json the host reads.
type WorkerConfig struct {
	Description    WorkerDescription `json:"description"`
	ProcessOptions ProcessOptions    `json:"processOptions"`
}

// WorkerDescription is worker.config.json's "description".
type WorkerDescription struct {
	Language              string   `json:"language"`
	Extensions            []string `json:"extensions"`
	DefaultExecutablePath string   `json:"defaultExecutablePath"`
	DefaultWorkerPath     string   `json:"defaultWorkerPath"`
	Arguments             []string `json:"arguments"`
	WorkerArguments       []string `json:"workerArguments"`
	// WorkerIndexing is "true" (a string in the published configs) or a JSON boolean.
	WorkerIndexing flexBool `json:"workerIndexing"`
}

// ProcessOptions is worker.config.json's "processOptions" (the timeouts fbench honours).
type ProcessOptions struct {
	InitializationTimeout string `json:"initializationTimeout"`
	ProcessStartupTimeout string `json:"processStartupTimeout"`
	// Several worker processes (see ResolveProcesses); zero values are the host's defaults.
	ProcessCount                      int      `json:"processCount"`
	MaxProcessCount                   int      `json:"maxProcessCount"`
	SetProcessCountToNumberOfCpuCores flexBool `json:"setProcessCountToNumberOfCpuCores"`
	ProcessStartupInterval            string   `json:"processStartupInterval"`
	ProcessRestartInterval            string   `json:"processRestartInterval"`
}

// flexBool accepts true, false, "true", "false" (any case) and "" as JSON.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(strings.TrimSpace(string(data)), `"`)
	switch strings.ToLower(s) {
	case "true":
		*b = true
	case "false", "", "null":
		*b = false
	default:
		// %q keeps the message on one line whatever the JSON value holds.
		return fmt.Errorf("workerIndexing: want true or false, got %.40q", data)
	}
	return nil
}

// LoadWorkerConfig reads dir/worker.config.json. Errors name the file and, for JSON syntax errors,
// the line.
func LoadWorkerConfig(dir string) (*WorkerConfig, error) {
	path := filepath.Join(dir, WorkerConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return ParseWorkerConfig(path, data)
}

// ParseWorkerConfig parses the contents of a worker.config.json; path is only used in errors.
func ParseWorkerConfig(path string, data []byte) (*WorkerConfig, error) {
	var cfg WorkerConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cfg); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("%s:%d: invalid JSON: %v", path, lineOf(data, se.Offset), se)
		case errors.As(err, &te):
			return nil, fmt.Errorf("%s:%d: field %q: want %s, got %s", path, lineOf(data, te.Offset), te.Field, te.Type, te.Value)
		default:
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	d := cfg.Description
	if d.DefaultExecutablePath == "" {
		return nil, fmt.Errorf("%s: description.defaultExecutablePath is missing", path)
	}
	for _, t := range []struct{ name, v string }{
		{"processOptions.initializationTimeout", cfg.ProcessOptions.InitializationTimeout},
		{"processOptions.processStartupTimeout", cfg.ProcessOptions.ProcessStartupTimeout},
	} {
		if t.v == "" {
			continue
		}
		if _, err := ParseTimeSpan(t.v); err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, t.name, err)
		}
	}
	return &cfg, nil
}

func lineOf(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return 1 + bytes.Count(data[:offset], []byte("\n"))
}

// ParseTimeSpan parses a .NET TimeSpan as worker configs write it ("00:02:00", "1.00:00:00") or a
// Go duration ("2m").
func ParseTimeSpan(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	days := 0
	rest := s
	if i := strings.IndexByte(s, '.'); i >= 0 && i < strings.IndexByte(s, ':') {
		if _, err := fmt.Sscanf(s[:i], "%d", &days); err != nil {
			return 0, fmt.Errorf("invalid time span %q", s)
		}
		rest = s[i+1:]
	}
	var h, m int
	var sec float64
	if n, err := fmt.Sscanf(rest, "%d:%d:%g", &h, &m, &sec); err != nil || n != 3 || h < 0 || m < 0 || sec < 0 {
		return 0, fmt.Errorf("invalid time span %q: want hh:mm:ss", s)
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec*float64(time.Second)), nil
}
