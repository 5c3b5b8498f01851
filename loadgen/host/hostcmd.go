package host

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
)

// Platform is what the host puts for {os} and {architecture} in a worker path: .NET's
// OSPlatform and RuntimeInformation.OSArchitecture names (LINUX, X64, Arm64, ...).
type Platform struct {
	OS   string
	Arch string
}

// CurrentPlatform is the platform fbench runs on, named as the host names it.
func CurrentPlatform() Platform {
	os := strings.ToUpper(runtime.GOOS)
	switch runtime.GOOS {
	case "darwin":
		os = "OSX"
	}
	arch := map[string]string{
		"386": "X86", "amd64": "X64", "arm": "Arm", "arm64": "Arm64", "wasm": "Wasm", "s390x": "S390x",
		"loong64": "LoongArch64", "ppc64le": "Ppc64le", "riscv64": "RiscV64",
	}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	return Platform{OS: os, Arch: arch}
}

// The placeholders the host knows in a worker path.
const (
	placeholderOS           = "{os}"
	placeholderArch         = "{architecture}"
	placeholderRuntimeVer   = "%FUNCTIONS_WORKER_RUNTIME_VERSION%"
	placeholderWorkerDirArg = "{workerDirectoryPath}"
	envRuntimeVersion       = "FUNCTIONS_WORKER_RUNTIME_VERSION"
)

var bracePlaceholder = regexp.MustCompile(`\{[A-Za-z_][A-Za-z0-9_]*\}`)

// hostCommand is what the host's worker.config.json pipeline makes of a worker directory: the
// executable, the one-string command line and the argv .NET splits it into.
type hostCommand struct {
	Description    WorkerDescription // after profiles and app-setting overrides
	Profile        string            // the profile applied, if any
	RuntimeVersion string            // what replaced %FUNCTIONS_WORKER_RUNTIME_VERSION% ("" when unused)
	WorkerPath     string            // absolute; it exists
	FileName       string            // the executable as the host gives it (argv[0])
	Arguments      string            // the one string the host builds
	Argv           []string          // FileName followed by Arguments split as .NET on Unix splits them
	Notices        []string          // what fbench must say before measuring
}

// hostCommandInput is what the pipeline reads besides the file.
type hostCommandInput struct {
	ConfigPath  string            // the file, for errors
	WorkerDir   string            // absolute
	HostEnv     map[string]string // the host's environment (what the worker inherits)
	Platform    Platform
	HostVersion string
	HostArgs    []string    // the fixed suffix (HostArgs)
	ContextVars [][2]string // the variables the host sets in the child and replaces as %KEY%
}

// buildHostCommand runs the host's pipeline for one worker.config.json (protocol.md §8.1): profile,
// app-setting overrides, {os}/{architecture} and runtime version in defaultWorkerPath (validated
// against the supported lists), {workerDirectoryPath} in arguments, the worker path's existence,
// %VAR% expansion, the one-string command line, the context variables, the removal of what is
// left of %...%, and .NET's Unix argv split. Every error is one line naming the file and the field.
func buildHostCommand(cfg *WorkerConfig, in hostCommandInput) (*hostCommand, error) {
	b := &commandBuilder{in: in, hc: &hostCommand{Description: cfg.Description}}
	if len(cfg.Description.WorkerArguments) > 0 {
		b.hc.Notices = append(b.hc.Notices, "worker.config.json's workerArguments are ignored, as the host ignores them for language workers")
	}
	if err := b.applyProfile(cfg); err != nil {
		return nil, err
	}
	d := &b.hc.Description
	if bool(d.IsDisabled) {
		return nil, b.fail("description.isDisabled", "true: the host skips this worker")
	}
	if d.DefaultExecutablePath == "" {
		return nil, b.fail("description.defaultExecutablePath", "missing")
	}
	b.applyOverrides()
	if err := b.checkPlaceholders(); err != nil {
		return nil, err
	}
	if err := b.resolveWorkerPath(); err != nil {
		return nil, err
	}
	if err := b.commandLine(); err != nil {
		return nil, err
	}
	return b.hc, nil
}

// commandBuilder is buildHostCommand's state: its input and the command as built so far.
type commandBuilder struct {
	in hostCommandInput
	hc *hostCommand
}

// fail is an error naming the file and the field.
func (b *commandBuilder) fail(field, format string, a ...any) error {
	return fmt.Errorf("%s: %s: %s", b.in.ConfigPath, field, fmt.Sprintf(format, a...))
}

// applyProfile is step 1: the first profile whose conditions all hold replaces the description.
func (b *commandBuilder) applyProfile(cfg *WorkerConfig) error {
	for i, p := range cfg.Profiles {
		ok, err := profileHolds(p, b.in)
		if err != nil {
			return b.fail(fmt.Sprintf("profiles[%d]%s", i, err.field), "%s", err.msg)
		}
		if !ok {
			continue
		}
		b.hc.Description = applyProfile(cfg.Description, p.Description)
		b.hc.Profile = p.ProfileName
		if bool(cfg.Description.WorkerIndexing) {
			b.hc.Notices = append(b.hc.Notices, fmt.Sprintf("profile %q applies: as the host does, the new description drops workerIndexing, defaultRuntimeVersion and the supported lists", p.ProfileName))
		} else {
			b.hc.Notices = append(b.hc.Notices, fmt.Sprintf("profile %q applies", p.ProfileName))
		}
		break
	}
	return nil
}

// applyOverrides is step 2: the app-setting overrides, in their environment form.
func (b *commandBuilder) applyOverrides() {
	d := &b.hc.Description
	if d.Language == "" {
		return
	}
	prefix := "languageWorkers__" + d.Language + "__"
	if v := b.in.HostEnv[prefix+"defaultExecutablePath"]; v != "" {
		d.DefaultExecutablePath = v
	}
	if v := b.in.HostEnv[prefix+"defaultRuntimeVersion"]; v != "" {
		d.DefaultRuntimeVersion = v
	}
	if v := strings.Fields(b.in.HostEnv[prefix+"arguments"]); len(v) > 0 {
		d.Arguments = append(append([]string(nil), d.Arguments...), v...)
	}
}

// checkPlaceholders refuses a {placeholder} the host does not know: none in defaultExecutablePath,
// {os} and {architecture} only in defaultWorkerPath.
func (b *commandBuilder) checkPlaceholders() error {
	d := &b.hc.Description
	for _, f := range []struct{ name, v string }{{"description.defaultExecutablePath", d.DefaultExecutablePath}, {"description.defaultWorkerPath", d.DefaultWorkerPath}} {
		for _, ph := range bracePlaceholder.FindAllString(f.v, -1) {
			if f.name == "description.defaultExecutablePath" || (ph != placeholderOS && ph != placeholderArch) {
				return b.fail(f.name, "unknown placeholder %s (the host knows {os} and {architecture} in defaultWorkerPath)", ph)
			}
		}
	}
	return nil
}

// resolveWorkerPath is step 3: {os}, {architecture} and the runtime version in defaultWorkerPath,
// then %VAR% expansion, made absolute; the file must exist.
func (b *commandBuilder) resolveWorkerPath() error {
	d := &b.hc.Description
	wp, err := b.platformPath(d.DefaultWorkerPath)
	if err != nil {
		return err
	}
	version, versionFrom, err := b.runtimeVersion()
	if err != nil {
		return err
	}
	if strings.Contains(wp, placeholderRuntimeVer) {
		if version == "" {
			return b.fail("description.defaultRuntimeVersion", "missing, and %s is not set: nothing for %s in defaultWorkerPath (give --env %s=VERSION)", envRuntimeVersion, placeholderRuntimeVer, envRuntimeVersion)
		}
		if len(d.SupportedRuntimeVersions) > 0 && !containsFold(d.SupportedRuntimeVersions, version) {
			return b.fail("description.supportedRuntimeVersions", "runtime version %q (from %s) is not among %s", version, versionFrom, strings.Join(d.SupportedRuntimeVersions, ", "))
		}
		wp = strings.ReplaceAll(wp, placeholderRuntimeVer, version)
		b.hc.RuntimeVersion = version
	}
	if wp == "" {
		return nil
	}
	wp = expandEnvironmentVariables(wp, b.in.HostEnv)
	if !filepath.IsAbs(wp) {
		wp = filepath.Join(b.in.WorkerDir, wp)
	}
	if !fileExists(wp) {
		msg := fmt.Sprintf("%s does not exist (the host requires the file)", wp)
		if b.hc.RuntimeVersion != "" {
			msg += fmt.Sprintf("; runtime version %s from %s", b.hc.RuntimeVersion, versionFrom)
			if have := shippedVersions(b.in.WorkerDir, d.DefaultWorkerPath); len(have) > 0 {
				msg += "; this worker ships " + strings.Join(have, ", ")
			}
		}
		return b.fail("description.defaultWorkerPath", "%s", msg)
	}
	b.hc.WorkerPath = wp
	return nil
}

// platformPath replaces {os} and {architecture} in the worker path wp, each only when the
// platform is among the supported ones (an empty list supports all).
func (b *commandBuilder) platformPath(wp string) (string, error) {
	d := &b.hc.Description
	p := b.in.Platform
	if strings.Contains(wp, placeholderOS) {
		if !containsFold(d.SupportedOperatingSystems, p.OS) && len(d.SupportedOperatingSystems) > 0 {
			return "", b.fail("description.supportedOperatingSystems", "%s is not among %s", p.OS, strings.Join(d.SupportedOperatingSystems, ", "))
		}
		wp = strings.ReplaceAll(wp, placeholderOS, p.OS)
	}
	if strings.Contains(wp, placeholderArch) {
		if !containsFold(d.SupportedArchitectures, p.Arch) && len(d.SupportedArchitectures) > 0 {
			return "", b.fail("description.supportedArchitectures", "%s is not among %s", p.Arch, strings.Join(d.SupportedArchitectures, ", "))
		}
		wp = strings.ReplaceAll(wp, placeholderArch, p.Arch)
	}
	return wp, nil
}

// runtimeVersion is the version for %FUNCTIONS_WORKER_RUNTIME_VERSION% and where it comes from:
// the host environment's FUNCTIONS_WORKER_RUNTIME_VERSION (sanitized by the description's regex)
// when FUNCTIONS_WORKER_RUNTIME names this language, else defaultRuntimeVersion.
func (b *commandBuilder) runtimeVersion() (version, from string, err error) {
	d := &b.hc.Description
	version, from = d.DefaultRuntimeVersion, "description.defaultRuntimeVersion"
	v := b.in.HostEnv[envRuntimeVersion]
	if v == "" || !strings.EqualFold(b.in.HostEnv["FUNCTIONS_WORKER_RUNTIME"], d.Language) {
		return version, from, nil
	}
	version, from = v, envRuntimeVersion
	if d.SanitizeRuntimeVersionRegex == "" {
		return version, from, nil
	}
	re, cerr := regexp.Compile(d.SanitizeRuntimeVersionRegex)
	if cerr != nil {
		return "", "", b.fail("description.sanitizeRuntimeVersionRegex", "%q does not compile: %v", d.SanitizeRuntimeVersionRegex, cerr)
	}
	m := re.FindString(v)
	if m == "" {
		return "", "", b.fail("description.sanitizeRuntimeVersionRegex", "%s=%q has no match for %q", envRuntimeVersion, v, d.SanitizeRuntimeVersionRegex)
	}
	return m, from, nil
}

// commandLine is step 4: the one-string command line ({workerDirectoryPath} and %VAR% in each
// argument, the worker path quoted, the host's arguments), the context variables, the removal of
// what is left of %...%, and .NET's Unix argv split.
func (b *commandBuilder) commandLine() error {
	d := &b.hc.Description
	var sb strings.Builder
	for _, a := range d.Arguments {
		a = strings.ReplaceAll(a, placeholderWorkerDirArg, b.in.WorkerDir)
		sb.WriteByte(' ')
		sb.WriteString(expandEnvironmentVariables(a, b.in.HostEnv))
	}
	if b.hc.WorkerPath != "" {
		sb.WriteString(` "` + b.hc.WorkerPath + `"`)
	}
	for _, a := range b.in.HostArgs {
		sb.WriteByte(' ')
		sb.WriteString(a)
	}
	args := sb.String()
	exe := expandEnvironmentVariables(d.DefaultExecutablePath, b.in.HostEnv)
	for _, kv := range b.in.ContextVars {
		exe = strings.ReplaceAll(exe, "%"+kv[0]+"%", kv[1])
		args = strings.ReplaceAll(args, "%"+kv[0]+"%", kv[1])
	}
	args = leftoverPercent.ReplaceAllString(args, "")
	if exe == "" {
		return b.fail("description.defaultExecutablePath", "expands to nothing")
	}
	b.hc.FileName, b.hc.Arguments = exe, args
	b.hc.Argv = append([]string{exe}, SplitArgsDotNet(args)...)
	return nil
}

// leftoverPercent is what the host removes from the arguments once every variable it knows is
// replaced: non-greedy, so it can span the text between two unrelated '%'.
var leftoverPercent = regexp.MustCompile(`%(.+?)%`)

// expandEnvironmentVariables is .NET's Environment.ExpandEnvironmentVariables on Unix: %NAME%
// becomes NAME's value when NAME is set; otherwise the text stays as it is.
func expandEnvironmentVariables(s string, env map[string]string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		j += i + 1
		b.WriteString(s[:i])
		if v, ok := env[s[i+1:j]]; ok {
			b.WriteString(v)
			s = s[j+1:]
		} else {
			b.WriteString(s[i:j]) // "%NAME", the closing '%' may open the next one
			s = s[j:]
		}
	}
}

// SplitArgsDotNet splits a command line as .NET's Process does on Unix: blanks (space, tab)
// separate arguments outside quotes; a '"' toggles quoting and is dropped; inside quotes "" is a
// literal quote; n backslashes before a '"' give n/2 backslashes (and a literal quote when n is
// odd), elsewhere they are literal; an argument that has started is kept, so "" is an empty one.
func SplitArgsDotNet(s string) []string {
	var out []string
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			return out
		}
		var b strings.Builder
		inQuotes := false
	arg:
		for i < len(s) {
			n := 0
			for i < len(s) && s[i] == '\\' {
				i++
				n++
			}
			if n > 0 {
				if i >= len(s) || s[i] != '"' {
					b.WriteString(strings.Repeat(`\`, n))
				} else {
					b.WriteString(strings.Repeat(`\`, n/2))
					if n%2 == 1 {
						b.WriteByte('"')
						i++
					}
				}
				continue
			}
			c := s[i]
			switch {
			case c == '"':
				if inQuotes && i+1 < len(s) && s[i+1] == '"' {
					b.WriteByte('"')
					i++
				} else {
					inQuotes = !inQuotes
				}
				i++
			case (c == ' ' || c == '\t') && !inQuotes:
				break arg
			default:
				b.WriteByte(c)
				i++
			}
		}
		out = append(out, b.String())
	}
}

// profileError names the part of a profile that is wrong.
type profileError struct{ field, msg string }

// profileHolds evaluates a profile's conditions as the host does.
func profileHolds(p WorkerProfile, in hostCommandInput) (bool, *profileError) {
	for j, c := range p.Conditions {
		re, err := regexp.Compile(c.ConditionExpression)
		if err != nil {
			return false, &profileError{fmt.Sprintf(".conditions[%d].conditionExpression", j), fmt.Sprintf("%q does not compile: %v", c.ConditionExpression, err)}
		}
		var value string
		switch strings.ToLower(c.ConditionType) {
		case "environment":
			value = in.HostEnv[c.ConditionName]
			if value == "" {
				return false, nil
			}
		case "hostproperty":
			switch strings.ToLower(c.ConditionName) {
			case "sku":
				value = in.HostEnv["WEBSITE_SKU"]
			case "platform":
				value = in.Platform.OS
			case "hostversion":
				value = in.HostVersion
			default:
				return false, &profileError{fmt.Sprintf(".conditions[%d].conditionName", j), fmt.Sprintf("unknown host property %q (want Sku, Platform or HostVersion)", c.ConditionName)}
			}
		default:
			return false, nil // the host makes any other type a condition that never holds
		}
		if !re.MatchString(value) {
			return false, nil
		}
	}
	return true, nil
}

// applyProfile builds the description the host makes from a matching profile: arguments,
// extensions, defaultExecutablePath, defaultWorkerPath, language and workerDirectory from the
// profile where it sets them (else the file's), isDisabled; everything else is dropped.
func applyProfile(base, p WorkerDescription) WorkerDescription {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	d := WorkerDescription{
		Language:              pick(p.Language, base.Language),
		DefaultExecutablePath: pick(p.DefaultExecutablePath, base.DefaultExecutablePath),
		DefaultWorkerPath:     pick(p.DefaultWorkerPath, base.DefaultWorkerPath),
		WorkerDirectory:       pick(p.WorkerDirectory, base.WorkerDirectory),
		Arguments:             base.Arguments,
		Extensions:            base.Extensions,
		IsDisabled:            p.IsDisabled || base.IsDisabled,
	}
	if len(p.Arguments) > 0 {
		d.Arguments = p.Arguments
	}
	if len(p.Extensions) > 0 {
		d.Extensions = p.Extensions
	}
	return d
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// shippedVersions lists the runtime versions a worker directory holds, for an error: the
// directories where the worker path's version placeholder sits.
func shippedVersions(workerDir, pathTemplate string) []string {
	before, _, ok := strings.Cut(pathTemplate, placeholderRuntimeVer)
	if !ok || strings.ContainsAny(before, "{%") {
		return nil
	}
	entries, err := os.ReadDir(filepath.Join(workerDir, before))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}
