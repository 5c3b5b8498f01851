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
	Profiles       []WorkerProfile   `json:"profiles"`
	ProcessOptions ProcessOptions    `json:"processOptions"`
}

// WorkerProfile is one entry of worker.config.json's "profiles": when all its conditions hold (the
// first such profile wins), its description replaces the file's (see applyProfile).
type WorkerProfile struct {
	ProfileName string             `json:"profileName"`
	Conditions  []ProfileCondition `json:"conditions"`
	Description WorkerDescription  `json:"description"`
}

// ProfileCondition is one condition of a profile: conditionType "environment" (the variable
// conditionName is non-empty and matches conditionExpression) or "hostProperty" (Sku, Platform or
// HostVersion matches it); any other type never holds.
type ProfileCondition struct {
	ConditionType       string `json:"conditionType"`
	ConditionName       string `json:"conditionName"`
	ConditionExpression string `json:"conditionExpression"`
}

// WorkerDescription is worker.config.json's "description".
type WorkerDescription struct {
	Language              string   `json:"language"`
	Extensions            []string `json:"extensions"`
	DefaultExecutablePath string   `json:"defaultExecutablePath"`
	DefaultWorkerPath     string   `json:"defaultWorkerPath"`
	Arguments             []string `json:"arguments"`
	// WorkerArguments is read only to say that it is ignored: the host passes it to HTTP custom
	// handlers, never to language workers.
	WorkerArguments []string `json:"workerArguments"`
	WorkerDirectory string   `json:"workerDirectory"`
	IsDisabled      flexBool `json:"isDisabled"`
	// The runtime version that replaces %FUNCTIONS_WORKER_RUNTIME_VERSION% in defaultWorkerPath.
	DefaultRuntimeVersion       string   `json:"defaultRuntimeVersion"`
	SupportedRuntimeVersions    []string `json:"supportedRuntimeVersions"`
	SanitizeRuntimeVersionRegex string   `json:"sanitizeRuntimeVersionRegex"`
	// Checked when defaultWorkerPath holds {os} / {architecture}.
	SupportedOperatingSystems []string `json:"supportedOperatingSystems"`
	SupportedArchitectures    []string `json:"supportedArchitectures"`
	// WorkerIndexing is "true" (a string in the published configs) or a JSON boolean.
	WorkerIndexing flexBool `json:"workerIndexing"`
}

// ProcessOptions is worker.config.json's "processOptions" (the host's WorkerProcessCountOptions).
// Time spans are .NET TimeSpan strings ("00:02:00"); they are validated when the file is read.
type ProcessOptions struct {
	InitializationTimeout    string `json:"initializationTimeout"`
	ProcessStartupTimeout    string `json:"processStartupTimeout"`
	EnvironmentReloadTimeout string `json:"environmentReloadTimeout"`
	ProcessStartupInterval   string `json:"processStartupInterval"`
	ProcessRestartInterval   string `json:"processRestartInterval"`
	ProcessShutdownTimeout   string `json:"processShutdownTimeout"`
	// ProcessCount, MaxProcessCount and SetProcessCountToNumberOfCpuCores size the worker pool.
	ProcessCount                      *int     `json:"processCount"`
	MaxProcessCount                   *int     `json:"maxProcessCount"`
	SetProcessCountToNumberOfCpuCores flexBool `json:"setProcessCountToNumberOfCpuCores"`
}

// timeSpans lists the time-span fields with their names in the file.
func (p ProcessOptions) timeSpans() []struct{ name, v string } {
	return []struct{ name, v string }{
		{"processOptions.initializationTimeout", p.InitializationTimeout},
		{"processOptions.processStartupTimeout", p.ProcessStartupTimeout},
		{"processOptions.environmentReloadTimeout", p.EnvironmentReloadTimeout},
		{"processOptions.processStartupInterval", p.ProcessStartupInterval},
		{"processOptions.processRestartInterval", p.ProcessRestartInterval},
		{"processOptions.processShutdownTimeout", p.ProcessShutdownTimeout},
	}
}

// Duration is the named time span, or def when the file does not set it (it was validated).
func (p ProcessOptions) Duration(name string, def time.Duration) time.Duration {
	for _, t := range p.timeSpans() {
		if t.name == "processOptions."+name && t.v != "" {
			if d, err := ParseTimeSpan(t.v); err == nil {
				return d
			}
		}
	}
	return def
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
		return fmt.Errorf("workerIndexing, isDisabled or setProcessCountToNumberOfCpuCores: want true or false, got %.40q", data)
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
	for _, t := range cfg.ProcessOptions.timeSpans() {
		if t.v == "" {
			continue
		}
		if _, err := ParseTimeSpan(t.v); err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, t.name, err)
		}
	}
	po := cfg.ProcessOptions
	if po.ProcessCount != nil && *po.ProcessCount < 1 {
		return nil, fmt.Errorf("%s: processOptions.processCount: %d is below 1", path, *po.ProcessCount)
	}
	if po.MaxProcessCount != nil && *po.MaxProcessCount < 1 {
		return nil, fmt.Errorf("%s: processOptions.maxProcessCount: %d is below 1", path, *po.MaxProcessCount)
	}
	if po.ProcessCount != nil && po.MaxProcessCount != nil && *po.ProcessCount > *po.MaxProcessCount {
		return nil, fmt.Errorf("%s: processOptions.processCount: %d is above maxProcessCount %d", path, *po.ProcessCount, *po.MaxProcessCount)
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
