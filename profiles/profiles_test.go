package profiles

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fbench/fbench/loadgen"
)

func TestBuiltins(t *testing.T) {
	want := []string{"ramp", "smoke", "soak", "spike", "step", "stress", "wave"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			p, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != name || p.File != name+".yaml" {
				t.Errorf("Name %q File %q", p.Name, p.File)
			}
			if p.Description() == "" {
				t.Error("no description")
			}
			stages, err := p.Stages(1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(stages) == 0 {
				t.Fatal("no stages")
			}
			s, err := loadgen.NewSchedule(stages, loadgen.Poisson, 1)
			if err != nil {
				t.Fatal(err)
			}
			if s.Duration() != p.Duration() {
				t.Errorf("schedule lasts %v, profile %v", s.Duration(), p.Duration())
			}
			if !stages[0].Warmup || s.WarmupEnd() == 0 {
				t.Error("built-in profiles start with a warm-up stage")
			}
			if p.Relative() != (name != "smoke") {
				t.Errorf("Relative() = %v", p.Relative())
			}
			t.Logf("%s: %v, %d stages, %d phases: %s", name, p.Duration(), len(stages), len(s.Phases()), p.Description())
		})
	}
	// smoke has absolute rates, so it needs no -rps.
	p, _ := Load("smoke")
	if _, err := p.Stages(0); err != nil {
		t.Errorf("smoke.Stages(0): %v", err)
	}
}

func TestGolden(t *testing.T) {
	p, err := Load("spike")
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Stages(5000)
	if err != nil {
		t.Fatal(err)
	}
	s := time.Second
	spike := loadgen.Stage{Name: "spike", Duration: 10 * s, From: 5000, To: 5000}
	recover := loadgen.Stage{Name: "recover", Duration: 50 * s, From: 1000, To: 1000}
	want := []loadgen.Stage{
		{Name: "warmup", Duration: 10 * s, From: 1000, To: 1000, Warmup: true},
		{Name: "base", Duration: 30 * s, From: 1000, To: 1000},
		spike, recover, spike, recover, spike, recover,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spike stages:\n got %+v\nwant %+v", got, want)
	}
	if p.Duration() != 220*s {
		t.Errorf("Duration() = %v", p.Duration())
	}

	p, err = Load("ramp")
	if err != nil {
		t.Fatal(err)
	}
	got, err = p.Stages(5000)
	if err != nil {
		t.Fatal(err)
	}
	want = []loadgen.Stage{
		{Name: "warmup", Duration: 10 * s, From: 500, To: 500, Warmup: true},
		{Name: "ramp", Duration: 60 * s, From: 500, To: 5000},
		{Name: "steady", Duration: 2 * time.Minute, From: 5000, To: 5000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ramp stages:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseFull(t *testing.T) {
	src := `# a comment
description: |
  Two lines
  of text.
arrival: Poisson
stages:
  - {duration: 1m30s, rate: 200}
  - name: up
    duration: 500ms
    from: 0
    to: 25.5%
  - repeat: 2
    stages:
      - {name: a, duration: 1s, rate: "10"}
      - repeat: 2
        stages: [{name: b, duration: 2s, from: 1%, to: 0%}]
`
	p, err := Parse("x/full.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "full" || p.Description() != "Two lines\nof text." || p.Arrival() != loadgen.Poisson || !p.Relative() {
		t.Errorf("Name %q Description %q Arrival %q Relative %v", p.Name, p.Description(), p.Arrival(), p.Relative())
	}
	got, err := p.Stages(1000)
	if err != nil {
		t.Fatal(err)
	}
	a := loadgen.Stage{Name: "a", Duration: time.Second, From: 10, To: 10}
	b := loadgen.Stage{Name: "b", Duration: 2 * time.Second, From: 10, To: 0}
	want := []loadgen.Stage{
		{Duration: 90 * time.Second, From: 200, To: 200},
		{Name: "up", Duration: 500 * time.Millisecond, From: 0, To: 255},
		a, b, b, a, b, b,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stages:\n got %+v\nwant %+v", got, want)
	}
	if want := 90*time.Second + 500*time.Millisecond + 10*time.Second; p.Duration() != want {
		t.Errorf("Duration() = %v, want %v", p.Duration(), want)
	}
	if string(p.Source()) != src {
		t.Error("Source() differs")
	}
}

func TestRelativeRates(t *testing.T) {
	p, err := Load("ramp")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		base float64
		want string
	}{
		{0, "profile ramp uses relative rates: give -rps"},
		{-5, "profile ramp uses relative rates: -rps -5 is not in (0, 1e+09]"},
		{2e9, "profile ramp uses relative rates: -rps 2e+09 is not in (0, 1e+09]"},
	} {
		if _, err := p.Stages(tt.base); err == nil || err.Error() != tt.want {
			t.Errorf("Stages(%v) error %v, want %q", tt.base, err, tt.want)
		}
	}
	p, err = Parse("big.yaml", []byte("stages: [{duration: 1s, rate: 1000%}]"))
	if err != nil {
		t.Fatal(err)
	}
	want := "big.yaml:1: stages[0]: rate 1000% of -rps 5e+08 is 5e+09 rps, above 1e+09"
	if _, err := p.Stages(5e8); err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	st, err := p.Stages(0.5)
	if err != nil || st[0].From != 5 {
		t.Errorf("Stages(0.5) = %v, %v", st, err)
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"bad duration", "description: x\nstages:\n  - name: warmup\n    duration: 10s\n    rate: 10%\n  - name: ramp\n    duration: 6Os\n    rate: 5\n",
			`p.yaml:7: stages[1].duration: invalid duration "6Os"`},
		{"duration without unit", "stages:\n  - {duration: 60, rate: 5}\n", `p.yaml:2: stages[0].duration: invalid duration "60"`},
		{"negative duration", "stages:\n  - {duration: -1s, rate: 5}\n", `p.yaml:2: stages[0].duration: negative duration "-1s"`},
		{"zero duration", "stages:\n  - {duration: 0s, rate: 5}\n", `p.yaml:2: stages[0].duration: zero duration "0s"`},
		{"missing duration", "stages:\n  - rate: 5\n", `p.yaml:2: stages[0]: missing duration`},
		{"empty duration", "stages:\n  - rate: 5\n    duration:\n", `p.yaml:3: stages[0].duration: missing value (want a duration such as 30s or 5m)`},
		{"unknown field", "stages:\n  - duration: 1s\n    rat: 5\n",
			`p.yaml:3: stages[0].rat: unknown field (want name, duration, rate, from, to, warmup; or repeat and stages)`},
		{"unknown top field", "description: x\nstage:\n  - {duration: 1s, rate: 5}\n", `p.yaml:2: stage: unknown field (want description, arrival, stages)`},
		{"duplicate field", "stages:\n  - duration: 1s\n    rate: 1\n    rate: 2\n", `p.yaml:4: stages[0].rate: duplicate field (first at line 3)`},
		{"missing rate", "stages:\n  - duration: 1s\n    name: x\n", `p.yaml:2: stages[0]: missing rate (or from and to)`},
		{"rate and from", "stages:\n  - duration: 1s\n    from: 1\n    to: 3\n    rate: 5\n", `p.yaml:5: stages[0]: give either rate or from and to, not both`},
		{"from without to", "stages:\n  - duration: 1s\n    from: 1\n", `p.yaml:3: stages[0]: from without to`},
		{"to without from", "stages:\n  - duration: 1s\n    to: 1\n", `p.yaml:3: stages[0]: to without from`},
		{"negative rate", "stages:\n  - duration: 1s\n    rate: -5\n", `p.yaml:3: stages[0].rate: negative rate "-5"`},
		{"negative percent", "stages:\n  - duration: 1s\n    from: 1%\n    to: -3%\n", `p.yaml:4: stages[0].to: negative rate "-3%"`},
		{"bad rate", "stages:\n  - duration: 1s\n    rate: fast\n",
			`p.yaml:3: stages[0].rate: invalid rate "fast" (want rps such as 500 or a share of -rps such as 50%)`},
		{"infinite rate", "stages:\n  - duration: 1s\n    rate: .inf\n",
			`p.yaml:3: stages[0].rate: invalid rate ".inf" (want rps such as 500 or a share of -rps such as 50%)`},
		{"huge rate", "stages:\n  - duration: 1s\n    rate: 2e9\n", `p.yaml:3: stages[0].rate: rate "2e9" is above 1e+09 rps`},
		{"huge percent", "stages:\n  - duration: 1s\n    rate: 200000%\n", `p.yaml:3: stages[0].rate: rate "200000%" is above 100000%`},
		{"rate is a list", "stages:\n  - duration: 1s\n    rate: [1]\n", `p.yaml:3: stages[0].rate: want a rate such as 500 (rps) or 50% (of -rps)`},
		{"bad warmup", "stages:\n  - {duration: 1s, rate: 1, warmup: yes}\n", `p.yaml:2: stages[0].warmup: want true or false, got "yes"`},
		{"late warmup", "stages:\n  - {duration: 1s, rate: 1}\n  - duration: 1s\n    rate: 1\n    warmup: true\n",
			`p.yaml:5: stages[1].warmup: warm-up stage after a measured stage (warm-up stages must come first)`},
		{"warmup in repeat", "stages:\n  - repeat: 2\n    stages:\n      - {duration: 1s, rate: 1, warmup: true}\n      - {duration: 1s, rate: 1}\n",
			`p.yaml:4: stages[0].stages[0].warmup: warm-up stage after a measured stage (warm-up stages must come first)`},
		{"bad arrival", "arrival: bursty\nstages: [{duration: 1s, rate: 1}]\n", `p.yaml:1: arrival: unknown arrival "bursty" (want constant or poisson)`},
		{"description not a string", "description: [a]\nstages: [{duration: 1s, rate: 1}]\n", `p.yaml:1: description: want a string`},
		{"no stages", "description: x\n", `p.yaml:1: missing stages`},
		{"empty stages", "description: x\nstages: []\n", `p.yaml:2: stages: no stages`},
		{"stages not a list", "stages: 5\n", `p.yaml:1: stages: want a list of stages`},
		{"stage not a mapping", "stages:\n  - 5s\n",
			`p.yaml:2: stages[0]: want a mapping (name, duration, rate, from, to, warmup; or repeat and stages)`},
		{"not a mapping", "[1, 2]\n", `p.yaml:1: want a mapping (description, arrival, stages)`},
		{"empty file", "", `p.yaml: empty profile`},
		{"only comments", "# nothing\n", `p.yaml: empty profile`},
		{"two documents", "stages: [{duration: 1s, rate: 1}]\n---\nstages: []\n", `p.yaml:3: more than one YAML document`},
		{"alias", "stages:\n  - &a {duration: 1s, rate: 1}\n  - *a\n", `p.yaml:3: YAML aliases are not supported (use repeat)`},
		{"repeat zero", "stages:\n  - repeat: 0\n    stages: [{duration: 1s, rate: 1}]\n", `p.yaml:2: stages[0].repeat: invalid repeat "0" (want a whole number ≥ 1)`},
		{"repeat without stages", "stages:\n  - repeat: 2\n", `p.yaml:2: stages[0]: repeat without stages`},
		{"stages without repeat", "stages:\n  - stages: [{duration: 1s, rate: 1}]\n", `p.yaml:2: stages[0]: stages without repeat`},
		{"stage field in block", "stages:\n  - repeat: 2\n    rate: 5\n    stages: [{duration: 1s, rate: 1}]\n", `p.yaml:3: stages[0].rate: unknown field (want repeat, stages)`},
		{"bad nested stage", "stages:\n  - repeat: 2\n    stages:\n      - {duration: 1s}\n", `p.yaml:4: stages[0].stages[0]: missing rate (or from and to)`},
		{"too many stages", "stages:\n  - repeat: 200\n    stages:\n      - repeat: 200\n        stages: [{duration: 1s, rate: 1}]\n",
			`p.yaml:4: stages[0].stages: expands to more than 10000 stages`},
		{"repeat too big", "stages:\n  - repeat: 99999999999999999999\n    stages: [{duration: 1s, rate: 1}]\n",
			`p.yaml:2: stages[0].repeat: invalid repeat "99999999999999999999" (want a whole number ≥ 1)`},
		{"duration overflow", "stages:\n  - repeat: 3\n    stages: [{duration: 1000000h, rate: 1}]\n", `p.yaml:3: stages[0].stages: total duration overflows`},
		{"yaml: bad indent", "stages:\n  - {duration: 1s, rate: 1}\n   - x\n", `p.yaml:3: did not find expected '-' indicator`},
		{"yaml: tab", "stages:\n\t- x\n", `p.yaml:2: found character that cannot start any token`},
		{"yaml: unclosed flow", "description: x\nstages: [\n", `p.yaml:2: did not find expected node content`},
		{"yaml: mapping in value", "description: a: b\n", `p.yaml:1: mapping values are not allowed in this context`},
		{"yaml: unterminated string", "description: x\nstages: \"abc\n", `p.yaml:2: found unexpected end of stream`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("p.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; stages %+v", p.stages)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q\nwant  %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Error("error spans lines")
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(file, []byte("description: mine\nstages:\n  - {duration: 2s, rate: 7}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "mine" || p.File != file || p.Description() != "mine" || p.Relative() {
		t.Errorf("Name %q File %q Description %q", p.Name, p.File, p.Description())
	}
	if st, err := p.Stages(0); err != nil || len(st) != 1 || st[0].From != 7 {
		t.Errorf("Stages = %v, %v", st, err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("stages:\n  - {duration: 2x, rate: 7}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || err.Error() != bad+`:2: stages[0].duration: invalid duration "2x"` {
		t.Errorf("Load(bad) error %v", err)
	}

	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Load(missing) error %v", err)
	}
	want := `unknown profile "rampp" (built-in: ramp, smoke, soak, spike, step, stress, wave; or give a file path such as ./rampp.yaml)`
	if _, err := Load("rampp"); err == nil || err.Error() != want {
		t.Errorf("Load(rampp) error %v\nwant %q", err, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range Names() {
		data, err := builtin.ReadFile(name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err != nil {
			if p != nil {
				t.Fatal("profile and error")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "f.yaml") || strings.Contains(msg, "\n") {
				t.Fatalf("error not one line naming the file: %q", msg)
			}
			return
		}
		stages, err := p.Stages(1000)
		if err != nil {
			t.Fatalf("Stages: %v", err)
		}
		s, err := loadgen.NewSchedule(stages, loadgen.Poisson, 1)
		if err != nil {
			t.Fatalf("NewSchedule: %v", err)
		}
		if s.Duration() != p.Duration() {
			t.Fatalf("schedule lasts %v, profile %v", s.Duration(), p.Duration())
		}
		var last time.Duration
		for range 100 {
			at, ok := s.Next()
			if !ok {
				break
			}
			if at < last || at >= s.Duration() {
				t.Fatalf("arrival %v after %v, duration %v", at, last, s.Duration())
			}
			last = at
		}
	})
}

// Syntax-error lines are found by bisection, so large inputs stay fast.
func TestSyntaxErrorLineLargeInput(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{strings.Repeat("\n", 60000) + "a: b: c\n", "f.yaml:60001: mapping values are not allowed in this context"},
		{"stages:\n" + strings.Repeat("  - {duration: 1s, rate: 1}\n", 2000) + "   - x\n", "f.yaml:2002: did not find expected '-' indicator"},
		{strings.Repeat("[", 5000), "f.yaml:1: did not find expected node content"},
	} {
		start := time.Now()
		_, err := Parse("f.yaml", []byte(tt.src))
		if err == nil || err.Error() != tt.want {
			t.Errorf("error %v, want %q", err, tt.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	}
}
