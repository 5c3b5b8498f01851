package profiles

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fbench/fbench/loadgen"
	"go.yaml.in/yaml/v3"
)

//go:embed *.yaml
var builtin embed.FS

const (
	// MaxStages is the most stages a profile may expand to (after repeat).
	MaxStages = 10000
	// MaxPercent is the largest relative rate.
	MaxPercent = 100000
)

// Error is a problem in a profile, located by file, line and field.
type Error struct {
	File  string
	Line  int    // 1-based; 0 if unknown
	Field string // e.g. "stages[1].duration"; empty for the whole file
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		// A field path holds the file's own keys, which may hold anything: quoted when it is
		// not plain printable text, the error stays one line.
		if strings.ContainsFunc(e.Field, func(r rune) bool { return !unicode.IsPrint(r) }) {
			b.WriteString(strconv.Quote(e.Field))
		} else {
			b.WriteString(e.Field)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// rate is a rate as written: absolute rps, or a percentage of -rps.
type rate struct {
	v   float64
	pct bool
}

func (r rate) String() string {
	if r.pct {
		return strconv.FormatFloat(r.v, 'g', -1, 64) + "%"
	}
	return strconv.FormatFloat(r.v, 'g', -1, 64)
}

// stage is one expanded stage, with where it was written.
type stage struct {
	field    string // "stages[1]"
	line     int
	name     string
	duration time.Duration
	from, to rate
	warmup   bool
	wline    int // line of the warmup field
}

// Profile is a parsed load profile.
type Profile struct {
	// Name is the built-in name, or the file's base name without extension.
	Name string
	// File is the file name used in error messages.
	File string

	description string
	arrival     loadgen.Arrival
	stages      []stage
	relative    bool
	duration    time.Duration
	source      []byte
}

// Description returns the profile's description ("" if none).
func (p *Profile) Description() string { return p.description }

// Arrival returns the profile's arrival process, or "" if it does not set one.
func (p *Profile) Arrival() loadgen.Arrival { return p.arrival }

// Relative reports whether the profile has rates relative to -rps.
func (p *Profile) Relative() bool { return p.relative }

// Duration returns the profile's total duration.
func (p *Profile) Duration() time.Duration { return p.duration }

// Source returns the YAML the profile was parsed from.
func (p *Profile) Source() []byte { return p.source }

// Stages returns the expanded stages, with relative rates taken as a share of
// baseRPS. baseRPS may be 0 only if every rate is absolute.
func (p *Profile) Stages(baseRPS float64) ([]loadgen.Stage, error) {
	if p.relative && !(baseRPS > 0 && baseRPS <= loadgen.MaxRate) {
		if baseRPS == 0 {
			return nil, fmt.Errorf("profile %s uses relative rates: give -rps", p.Name)
		}
		return nil, fmt.Errorf("profile %s uses relative rates: -rps %v is not in (0, %g]", p.Name, baseRPS, float64(loadgen.MaxRate))
	}
	out := make([]loadgen.Stage, len(p.stages))
	for i, s := range p.stages {
		from, err := p.abs(s, s.from, baseRPS)
		if err != nil {
			return nil, err
		}
		to, err := p.abs(s, s.to, baseRPS)
		if err != nil {
			return nil, err
		}
		out[i] = loadgen.Stage{Name: s.name, Duration: s.duration, From: from, To: to, Warmup: s.warmup}
	}
	return out, nil
}

func (p *Profile) abs(s stage, r rate, base float64) (float64, error) {
	if !r.pct {
		return r.v, nil
	}
	v := r.v / 100 * base
	if v > loadgen.MaxRate {
		return 0, &Error{File: p.File, Line: s.line, Field: s.field,
			Msg: fmt.Sprintf("rate %s of -rps %v is %g rps, above %g", r, base, v, float64(loadgen.MaxRate))}
	}
	return v, nil
}

// Names returns the names of the built-in profiles, sorted.
func Names() []string {
	ents, _ := fs.ReadDir(builtin, ".")
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Load returns a built-in profile by name (no path separator and no
// extension: "ramp"), or else parses the file at nameOrPath ("./ramp",
// "my.yaml", "/tmp/p.yml").
func Load(nameOrPath string) (*Profile, error) {
	if nameOrPath == "" {
		return nil, fmt.Errorf("no profile given (built-in: %s; or give a file path)", strings.Join(Names(), ", "))
	}
	if !strings.ContainsAny(nameOrPath, `/\`) && filepath.Ext(nameOrPath) == "" {
		data, err := builtin.ReadFile(nameOrPath + ".yaml")
		if err != nil {
			return nil, fmt.Errorf("unknown profile %q (built-in: %s; or give a file path such as ./%s.yaml)",
				nameOrPath, strings.Join(Names(), ", "), nameOrPath)
		}
		return Parse(nameOrPath+".yaml", data)
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return Parse(nameOrPath, data)
}

var yamlErrRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// maxLineSearch bounds the input size for which a syntax error's line is
// found by re-parsing prefixes.
const maxLineSearch = 4 << 20

// yamlError turns a go.yaml.in/yaml syntax error into an *Error with its
// line. The library reports the line of the enclosing construct, 0-based for
// some errors and none on the first line, so the line is taken to be the
// first whose prefix of the input fails with the same message (found by
// bisection, so O(log lines) re-parses).
func yamlError(file string, data []byte, err error) *Error {
	msg, line := err.Error(), 0
	if m := yamlErrRE.FindStringSubmatch(msg); m != nil {
		msg = m[2]
		line, _ = strconv.Atoi(m[1])
	}
	if len(data) > maxLineSearch {
		return &Error{File: file, Line: line, Msg: msg}
	}
	var ends []int // ends[i] is the offset just past line i+1
	for off := 0; off < len(data); {
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			off += i + 1
		} else {
			off = len(data)
		}
		ends = append(ends, off)
	}
	fails := func(k int) bool { // does the prefix of k lines fail with msg?
		_, err := decodeAll(data[:ends[k-1]])
		if err == nil {
			return false
		}
		m := yamlErrRE.FindStringSubmatch(err.Error())
		return m != nil && m[2] == msg
	}
	lo, hi := 1, len(ends) // fails(len(ends)) holds: it is the whole input
	for lo < hi {
		if mid := int(uint(lo+hi) >> 1); fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if len(ends) > 0 {
		line = lo
	}
	return &Error{File: file, Line: line, Msg: msg}
}

// decodeAll parses every YAML document in data, turning parser panics into
// errors.
func decodeAll(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, fmt.Errorf("invalid YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, err
		}
		docs = append(docs, &doc)
		if len(docs) > 1 {
			return docs, nil // one too many is enough to tell
		}
	}
}

// decode reads exactly one YAML document.
func decode(file string, data []byte) (*yaml.Node, error) {
	docs, err := decodeAll(data)
	switch {
	case err != nil:
		return nil, yamlError(file, data, err)
	case len(docs) == 0:
		return nil, &Error{File: file, Msg: "empty profile"}
	case len(docs) > 1:
		line := docs[1].Line
		if len(docs[1].Content) > 0 {
			line = docs[1].Content[0].Line
		}
		return nil, &Error{File: file, Line: line, Msg: "more than one YAML document"}
	}
	doc := docs[0]
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return doc, nil
}

// Parse parses a profile. filename names it in errors and gives its Name.
func Parse(filename string, data []byte) (*Profile, error) {
	root, err := decode(filename, data)
	if err != nil {
		return nil, err
	}
	name := path.Base(filepath.ToSlash(filename))
	name = strings.TrimSuffix(name, path.Ext(name))
	p := &Profile{Name: name, File: filename, source: data}
	ps := &parser{p: p}
	if err := ps.noAliases(root, 0); err != nil {
		return nil, err
	}
	if err := ps.profile(root); err != nil {
		return nil, err
	}
	return p, nil
}

type parser struct {
	p *Profile
}

func (ps *parser) errf(n *yaml.Node, field, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: ps.p.File, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (ps *parser) noAliases(n *yaml.Node, depth int) error {
	if n.Kind == yaml.AliasNode {
		return ps.errf(n, "", "YAML aliases are not supported (use repeat)")
	}
	if depth > 100 {
		return ps.errf(n, "", "nested too deeply")
	}
	for _, c := range n.Content {
		if err := ps.noAliases(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// fields checks that n is a mapping with known, unique scalar keys and
// returns key → value (and key → key node, for lines).
func (ps *parser) fields(n *yaml.Node, field, want string, known ...string) (map[string]*yaml.Node, map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, nil, ps.errf(n, field, "want a mapping (%s)", want)
	}
	vals := map[string]*yaml.Node{}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, nil, ps.errf(k, field, "field names must be plain strings")
		}
		kf := join(field, k.Value)
		if !contains(known, k.Value) {
			return nil, nil, ps.errf(k, kf, "unknown field (want %s)", want)
		}
		if prev, dup := keys[k.Value]; dup {
			return nil, nil, ps.errf(k, kf, "duplicate field (first at line %d)", prev.Line)
		}
		keys[k.Value], vals[k.Value] = k, v
	}
	return vals, keys, nil
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (ps *parser) scalar(n *yaml.Node, field, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", ps.errf(n, field, "want %s", what)
	}
	if v := strings.TrimSpace(n.Value); v != "" && n.ShortTag() != "!!null" {
		return v, nil
	}
	return "", ps.errf(n, field, "missing value (want %s)", what)
}

func (ps *parser) profile(root *yaml.Node) error {
	const want = "description, arrival, stages"
	vals, _, err := ps.fields(root, "", want, "description", "arrival", "stages")
	if err != nil {
		return err
	}
	p := ps.p
	if n := vals["description"]; n != nil {
		if p.description, err = ps.scalar(n, "description", "a string"); err != nil {
			return err
		}
	}
	if n := vals["arrival"]; n != nil {
		s, err := ps.scalar(n, "arrival", "constant or poisson")
		if err != nil {
			return err
		}
		if p.arrival, err = loadgen.ParseArrival(s); err != nil {
			return ps.errf(n, "arrival", "%v", err)
		}
	}
	n := vals["stages"]
	if n == nil {
		return ps.errf(root, "", "missing stages")
	}
	if err := ps.stageList(n, "stages", 1); err != nil {
		return err
	}
	// Warm-up stages must lead, as the schedule excludes warm-up by time.
	measured := false
	for _, s := range p.stages {
		if s.warmup && measured {
			return &Error{File: p.File, Line: s.wline, Field: s.field + ".warmup",
				Msg: "warm-up stage after a measured stage (warm-up stages must come first)"}
		}
		measured = measured || !s.warmup
	}
	return nil
}

// stageList parses a list of stages and appends it, repeat times, to the
// profile's stages.
func (ps *parser) stageList(n *yaml.Node, field string, repeat int) error {
	if n.Kind != yaml.SequenceNode {
		return ps.errf(n, field, "want a list of stages")
	}
	if len(n.Content) == 0 {
		return ps.errf(n, field, "no stages")
	}
	p := ps.p
	first := len(p.stages)
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		if item.Kind == yaml.MappingNode && hasKey(item, "repeat", "stages") {
			if err := ps.block(item, f); err != nil {
				return err
			}
			continue
		}
		s, err := ps.stage(item, f)
		if err != nil {
			return err
		}
		if err := ps.add(item, f, s); err != nil {
			return err
		}
	}
	body := p.stages[first:]
	for r := 1; r < repeat; r++ {
		if len(p.stages)+len(body) > MaxStages {
			return ps.errf(n, field, "expands to more than %d stages", MaxStages)
		}
		for _, s := range body {
			if err := ps.add(n, field, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// add appends s, checking the stage count and the total duration.
func (ps *parser) add(n *yaml.Node, field string, s stage) error {
	p := ps.p
	if len(p.stages) >= MaxStages {
		return ps.errf(n, field, "expands to more than %d stages", MaxStages)
	}
	if p.duration > loadgen.Forever-1-s.duration {
		return ps.errf(n, field, "total duration overflows")
	}
	p.duration += s.duration
	p.stages = append(p.stages, s)
	return nil
}

func hasKey(n *yaml.Node, keys ...string) bool {
	for i := 0; i < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && contains(keys, n.Content[i].Value) {
			return true
		}
	}
	return false
}

func (ps *parser) block(n *yaml.Node, field string) error {
	vals, _, err := ps.fields(n, field, "repeat, stages", "repeat", "stages")
	if err != nil {
		return err
	}
	rn, sn := vals["repeat"], vals["stages"]
	if rn == nil {
		return ps.errf(n, field, "stages without repeat")
	}
	if sn == nil {
		return ps.errf(n, field, "repeat without stages")
	}
	s, err := ps.scalar(rn, field+".repeat", "a whole number ≥ 1")
	if err != nil {
		return err
	}
	count, err := strconv.Atoi(s)
	if err != nil || count < 1 {
		return ps.errf(rn, field+".repeat", "invalid repeat %q (want a whole number ≥ 1)", s)
	}
	if count > MaxStages {
		return ps.errf(rn, field+".repeat", "repeat %d is above %d", count, MaxStages)
	}
	return ps.stageList(sn, field+".stages", count)
}

func (ps *parser) stage(n *yaml.Node, field string) (stage, error) {
	const want = "name, duration, rate, from, to, warmup; or repeat and stages"
	s := stage{field: field, line: n.Line}
	vals, keys, err := ps.fields(n, field, want, "name", "duration", "rate", "from", "to", "warmup")
	if err != nil {
		return s, err
	}
	if v := vals["name"]; v != nil {
		if s.name, err = ps.scalar(v, field+".name", "a string"); err != nil {
			return s, err
		}
	}
	v := vals["duration"]
	if v == nil {
		return s, ps.errf(n, field, "missing duration")
	}
	if s.duration, err = ps.duration(v, field+".duration"); err != nil {
		return s, err
	}
	if v := vals["warmup"]; v != nil {
		b, err := ps.scalar(v, field+".warmup", "true or false")
		if err != nil {
			return s, err
		}
		switch b {
		case "true", "True", "TRUE":
			s.warmup, s.wline = true, v.Line
		case "false", "False", "FALSE":
		default:
			return s, ps.errf(v, field+".warmup", "want true or false, got %q", b)
		}
	}
	rn, fn, tn := vals["rate"], vals["from"], vals["to"]
	switch {
	case rn != nil && (fn != nil || tn != nil):
		other := keys["from"]
		if other == nil || (keys["to"] != nil && keys["to"].Line < other.Line) {
			other = keys["to"]
		}
		second := keys["rate"]
		if other.Line > second.Line {
			second = other
		}
		return s, ps.errf(second, field, "give either rate or from and to, not both")
	case rn != nil:
		if s.from, err = ps.rate(rn, field+".rate"); err != nil {
			return s, err
		}
		s.to = s.from
	case fn != nil && tn != nil:
		if s.from, err = ps.rate(fn, field+".from"); err != nil {
			return s, err
		}
		if s.to, err = ps.rate(tn, field+".to"); err != nil {
			return s, err
		}
	case fn != nil:
		return s, ps.errf(keys["from"], field, "from without to")
	case tn != nil:
		return s, ps.errf(keys["to"], field, "to without from")
	default:
		return s, ps.errf(n, field, "missing rate (or from and to)")
	}
	return s, nil
}

func (ps *parser) duration(n *yaml.Node, field string) (time.Duration, error) {
	s, err := ps.scalar(n, field, "a duration such as 30s or 5m")
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, ps.errf(n, field, "invalid duration %q", s)
	case d < 0:
		return 0, ps.errf(n, field, "negative duration %q", s)
	case d == 0:
		return 0, ps.errf(n, field, "zero duration %q", s)
	}
	return d, nil
}

func (ps *parser) rate(n *yaml.Node, field string) (rate, error) {
	s, err := ps.scalar(n, field, "a rate such as 500 (rps) or 50% (of -rps)")
	if err != nil {
		return rate{}, err
	}
	num, pct := strings.CutSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0) || strings.ContainsAny(num, "xX_"):
		return rate{}, ps.errf(n, field, "invalid rate %q (want rps such as 500 or a share of -rps such as 50%%)", s)
	case v < 0:
		return rate{}, ps.errf(n, field, "negative rate %q", s)
	case pct && v > MaxPercent:
		return rate{}, ps.errf(n, field, "rate %q is above %d%%", s, MaxPercent)
	case !pct && v > loadgen.MaxRate:
		return rate{}, ps.errf(n, field, "rate %q is above %g rps", s, float64(loadgen.MaxRate))
	}
	if pct {
		ps.p.relative = true
	}
	return rate{v: v, pct: pct}, nil
}
