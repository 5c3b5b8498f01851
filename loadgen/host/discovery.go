package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fbench/fbench/protos/rpc"
)

// Binding is one binding of a function, as function.json or a worker's raw_bindings declare it.
type Binding struct {
	Name      string
	Type      string // e.g. httpTrigger, queueTrigger, http
	Direction rpc.BindingInfo_Direction
	DataType  string         // "", string, binary, stream
	Raw       map[string]any // the whole JSON object
}

// IsTrigger reports whether the binding is a trigger (its type ends in "Trigger").
func (b Binding) IsTrigger() bool { return strings.HasSuffix(strings.ToLower(b.Type), "trigger") }

// Function is one function the worker loaded (or failed to load).
type Function struct {
	Name       string
	ID         string
	Directory  string
	ScriptFile string
	EntryPoint string
	Language   string
	Bindings   []Binding // in declaration order
	Properties map[string]string
	Disabled   bool
	Retry      *rpc.RpcRetryOptions
	// LoadError is non-empty when the worker (or its indexing) reported a failure for it.
	LoadError string
}

// Trigger returns the function's trigger binding, or nil.
func (f *Function) Trigger() *Binding {
	for i := range f.Bindings {
		if f.Bindings[i].IsTrigger() && f.Bindings[i].Direction != rpc.BindingInfo_out {
			return &f.Bindings[i]
		}
	}
	return nil
}

// BindingNames lists the binding names in order.
func (f *Function) BindingNames() []string {
	out := make([]string, len(f.Bindings))
	for i, b := range f.Bindings {
		out[i] = b.Name
	}
	return out
}

// TriggerType is the trigger binding's type, or "" when there is none.
func (f *Function) TriggerType() string {
	if t := f.Trigger(); t != nil {
		return t.Type
	}
	return ""
}

// parseBinding reads one function.json-style binding object.
func parseBinding(raw map[string]any) (Binding, error) {
	b := Binding{Raw: raw}
	b.Name, _ = raw["name"].(string)
	b.Type, _ = raw["type"].(string)
	if b.Name == "" {
		return b, fmt.Errorf("binding without a name")
	}
	if b.Type == "" {
		return b, fmt.Errorf("binding %q without a type", b.Name)
	}
	dir, _ := raw["direction"].(string)
	switch strings.ToLower(dir) {
	case "in", "":
		b.Direction = rpc.BindingInfo_in
	case "out":
		b.Direction = rpc.BindingInfo_out
	case "inout":
		b.Direction = rpc.BindingInfo_inout
	default:
		return b, fmt.Errorf("binding %q: invalid direction %q", b.Name, dir)
	}
	if dt, ok := raw["dataType"].(string); ok {
		b.DataType = strings.ToLower(dt)
	}
	return b, nil
}

// bindingInfo converts a binding to what the host puts in RpcFunctionMetadata.bindings.
func (b Binding) bindingInfo() *rpc.BindingInfo {
	bi := &rpc.BindingInfo{Type: b.Type, Direction: b.Direction}
	switch b.DataType {
	case "string":
		bi.DataType = rpc.BindingInfo_string
	case "binary":
		bi.DataType = rpc.BindingInfo_binary
	case "stream":
		bi.DataType = rpc.BindingInfo_stream
	}
	return bi
}

// functionJSON is the part of function.json the host reads.
type functionJSON struct {
	ScriptFile string           `json:"scriptFile"`
	EntryPoint string           `json:"entryPoint"`
	Disabled   any              `json:"disabled"`
	Bindings   []map[string]any `json:"bindings"`
	Retry      *functionRetry   `json:"retry"`
}

// functionRetry is function.json's "retry" (a retry strategy: the host then sends retry_context).
type functionRetry struct {
	Strategy        string `json:"strategy"`
	MaxRetryCount   *int32 `json:"maxRetryCount"`
	DelayInterval   string `json:"delayInterval"`
	MinimumInterval string `json:"minimumInterval"`
	MaximumInterval string `json:"maximumInterval"`
}

// options converts it to what the host puts in RpcFunctionMetadata.retry_options.
func (r *functionRetry) options() (*rpc.RpcRetryOptions, error) {
	o := &rpc.RpcRetryOptions{}
	switch strings.ToLower(r.Strategy) {
	case "fixeddelay":
		o.RetryStrategy = rpc.RpcRetryOptions_fixed_delay
	case "exponentialbackoff":
		o.RetryStrategy = rpc.RpcRetryOptions_exponential_backoff
	default:
		return nil, fmt.Errorf("retry.strategy %q: want fixedDelay or exponentialBackoff", r.Strategy)
	}
	if r.MaxRetryCount == nil {
		return nil, fmt.Errorf("retry.maxRetryCount is missing")
	}
	o.MaxRetryCount = *r.MaxRetryCount
	for _, d := range []struct {
		name string
		v    string
		dst  **durationpb.Duration
	}{{"delayInterval", r.DelayInterval, &o.DelayInterval}, {"minimumInterval", r.MinimumInterval, &o.MinimumInterval}, {"maximumInterval", r.MaximumInterval, &o.MaximumInterval}} {
		if d.v == "" {
			continue
		}
		t, err := ParseTimeSpan(d.v)
		if err != nil {
			return nil, fmt.Errorf("retry.%s: %v", d.name, err)
		}
		*d.dst = durationpb.New(t)
	}
	return o, nil
}

// primaryScripts are the file names the host picks as a function's script when function.json has
// no scriptFile.
var primaryScripts = []string{"index.js", "index.mjs", "index.cjs", "__init__.py", "run.py", "run.ps1", "run.csx", "main.py"}

// ScanFunctionJSON discovers functions as the host does without worker indexing: every
// APP/*/function.json. Ids are fresh GUIDs; disabled functions come last.
func ScanFunctionJSON(appDir string, newID func() string) ([]*Function, error) {
	matches, err := filepath.Glob(filepath.Join(appDir, "*", "function.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(matches)
	var fns, disabled []*Function
	for _, path := range matches {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		var fj functionJSON
		if err := json.Unmarshal(data, &fj); err != nil {
			return nil, fmt.Errorf("%s: invalid JSON: %v", path, err)
		}
		dir := filepath.Dir(path)
		f := &Function{Name: filepath.Base(dir), ID: newID(), Directory: dir, EntryPoint: fj.EntryPoint}
		switch v := fj.Disabled.(type) {
		case bool:
			f.Disabled = v
		case string:
			f.Disabled = strings.EqualFold(v, "true")
		}
		if fj.ScriptFile != "" {
			f.ScriptFile = fj.ScriptFile
			if !filepath.IsAbs(f.ScriptFile) {
				f.ScriptFile = filepath.Clean(filepath.Join(dir, f.ScriptFile))
			}
		} else {
			for _, name := range primaryScripts {
				if p := filepath.Join(dir, name); fileExists(p) {
					f.ScriptFile = p
					break
				}
			}
		}
		for i, raw := range fj.Bindings {
			b, err := parseBinding(raw)
			if err != nil {
				return nil, fmt.Errorf("%s: bindings[%d]: %v", path, i, err)
			}
			f.Bindings = append(f.Bindings, b)
		}
		if fj.Retry != nil {
			if f.Retry, err = fj.Retry.options(); err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
		}
		f.Properties = map[string]string{"FunctionId": f.ID}
		if f.Disabled {
			disabled = append(disabled, f)
		} else {
			fns = append(fns, f)
		}
	}
	return append(fns, disabled...), nil
}

// fromWorkerMetadata converts one RpcFunctionMetadata of a FunctionMetadataResponse. The host reads
// raw_bindings, not the bindings map.
func fromWorkerMetadata(m *rpc.RpcFunctionMetadata) (*Function, error) {
	f := &Function{
		Name: m.GetName(), ID: m.GetFunctionId(), Directory: m.GetDirectory(), ScriptFile: m.GetScriptFile(),
		EntryPoint: m.GetEntryPoint(), Language: m.GetLanguage(), Properties: m.GetProperties(), Retry: m.GetRetryOptions(),
	}
	if f.Name == "" {
		return nil, fmt.Errorf("function metadata without a name")
	}
	if f.ID == "" {
		return nil, fmt.Errorf("function %q: metadata without a function_id", f.Name)
	}
	if st := m.GetStatus(); st != nil && st.GetStatus() == rpc.StatusResult_Failure {
		f.LoadError = "indexing failed: " + resultText(st)
	}
	for i, rb := range m.GetRawBindings() {
		var raw map[string]any
		if err := json.Unmarshal([]byte(rb), &raw); err != nil {
			return nil, fmt.Errorf("function %q: raw_bindings[%d] is not a JSON object: %v", f.Name, i, err)
		}
		b, err := parseBinding(raw)
		if err != nil {
			return nil, fmt.Errorf("function %q: raw_bindings[%d]: %v", f.Name, i, err)
		}
		f.Bindings = append(f.Bindings, b)
	}
	return f, nil
}

// disabledBySetting reports whether the app setting AzureWebJobs.<name>.Disabled (an environment
// variable of the worker's, any case) disables the function, as the host reads it.
func disabledBySetting(name string, env []string) bool {
	want := "azurewebjobs." + strings.ToLower(name) + ".disabled"
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if strings.ToLower(k) == want {
			return strings.EqualFold(v, "true") || v == "1"
		}
	}
	return false
}

// managedDependencyEnabled reads host.json's managedDependency.enabled in the app directory, as the
// host does for FunctionLoadRequest.managed_dependency_enabled (false without host.json).
func managedDependencyEnabled(appDir string) (bool, error) {
	path := filepath.Join(appDir, "host.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	var hj struct {
		ManagedDependency *struct {
			Enabled any `json:"enabled"`
		} `json:"managedDependency"`
	}
	if err := json.Unmarshal(data, &hj); err != nil {
		return false, fmt.Errorf("%s: invalid JSON: %v", path, err)
	}
	if hj.ManagedDependency == nil {
		return false, nil
	}
	switch v := hj.ManagedDependency.Enabled.(type) {
	case bool:
		return v, nil
	case string:
		return strings.EqualFold(v, "true"), nil
	}
	return false, nil
}

// loadRequest builds the FunctionLoadRequest the host sends for f.
func (f *Function) loadRequest() *rpc.FunctionLoadRequest {
	md := &rpc.RpcFunctionMetadata{
		Name: f.Name, Directory: f.Directory, ScriptFile: f.ScriptFile, EntryPoint: f.EntryPoint,
		Bindings: make(map[string]*rpc.BindingInfo, len(f.Bindings)), RetryOptions: f.Retry,
	}
	for _, b := range f.Bindings {
		md.Bindings[b.Name] = b.bindingInfo()
	}
	props := map[string]string{}
	for k, v := range f.Properties {
		props[k] = v
	}
	props["FunctionId"] = f.ID
	md.Properties = props
	return &rpc.FunctionLoadRequest{FunctionId: f.ID, Metadata: md}
}

// resultText describes a StatusResult for an error line.
func resultText(r *rpc.StatusResult) string {
	if r == nil {
		return "no result (status defaults to Failure)"
	}
	parts := []string{"status " + r.GetStatus().String()}
	if r.GetResult() != "" {
		parts = append(parts, r.GetResult())
	}
	if e := r.GetException(); e != nil && e.GetMessage() != "" && e.GetMessage() != r.GetResult() {
		parts = append(parts, e.GetMessage())
	}
	return strings.Join(parts, ": ")
}
