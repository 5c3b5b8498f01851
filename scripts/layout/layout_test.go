package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// fbench's own packages keep the floors: no import reaches up, across a floor or into cmd, no
// code outside tests imports a test helper, and every package is in the floors table.
func TestFbenchKeepsItsFloors(t *testing.T) {
	m, err := Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	if m.Path != "github.com/fbench/fbench" || len(m.Packages) < 10 {
		t.Fatalf("read module %q with %d packages: not fbench's", m.Path, len(m.Packages))
	}
	for _, bad := range fbenchHouse().Check(m) {
		t.Error(bad)
	}
}

// The CLI holds flags, help, printing and exit codes only: under 1 000 lines of Go outside tests.
// What grows past that belongs in a library package.
func TestCLIStaysThin(t *testing.T) {
	m, err := Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	p := m.pkg("cmd/fbench")
	if p == nil || p.Lines == 0 {
		t.Fatal("cmd/fbench not found")
	}
	if p.Lines >= 1000 {
		t.Errorf("cmd/fbench has %d lines of Go outside tests, want under 1000", p.Lines)
	}
}

// On a module built to break every rule, the check names each offending edge and each package
// missing from the table, and nothing else (test files may import the test-only helper).
func TestCheckNamesEveryBrokenRule(t *testing.T) {
	m, err := Load("testdata/house")
	if err != nil {
		t.Fatal(err)
	}
	h := House{
		Floors:   map[string]int{"leaf": 0, "helper": 0, "mid": 1, "same": 1, "top": 2, "cmd/tool": 3},
		TestOnly: map[string]bool{"helper": true},
	}
	got := h.Check(m)
	want := []string{
		"stray is on no floor: add it to the floors table (scripts/layout/floors.go)",
		"leaf (floor 0) imports top (floor 2): a package imports only lower floors",
		"mid imports cmd/tool: nothing outside cmd/ imports cmd/...",
		"mid imports helper: only tests may import it",
		"same imports mid, both on floor 1: not allowed in sameFloor",
	}
	if !slices.Equal(got, want) {
		t.Errorf("check:\n got %q\nwant %q", got, want)
	}
	h.SameFloor = map[[2]string]bool{{"same", "mid"}: true}
	if got := h.Check(m); slices.Contains(got, want[4]) {
		t.Errorf("an edge allowed in SameFloor is still reported: %q", got)
	}
	mid := m.pkg("mid")
	if mid == nil || len(mid.Funcs) != 1 || mid.Funcs[0].Name != "(*T).Long" || mid.Funcs[0].Lines != 5 ||
		!slices.Equal(mid.TestImports, []string(nil)) || mid.Lines != 19 {
		t.Errorf("mid read as %+v", mid)
	}
}

// Each import added to fbench's own graph against the house is caught and named.
func TestCheckCatchesAnInjectedEdge(t *testing.T) {
	fbench, err := Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		from, to string
		test     bool
		want     string
	}{
		{"report", "loadgen", false, "report (floor 1) imports loadgen (floor 2): a package imports only lower floors"},
		{"loadgen", "report/slo", false, "loadgen imports report/slo, both on floor 2: not allowed in sameFloor"},
		{"loadgen/host", "loadgen/refworker", false, "loadgen/host imports loadgen/refworker, both on floor 1: not allowed in sameFloor"},
		{"loadgen/dist", "protos/rpc", false, "loadgen/dist imports protos/rpc, both on floor 0: not allowed in sameFloor"},
		{"scripts/benchdriver", "cmd/fbench", false, "scripts/benchdriver imports cmd/fbench: nothing outside cmd/ imports cmd/..."},
		{"loadgen", "cmd/fbench", true, "loadgen imports cmd/fbench: nothing outside cmd/ imports cmd/..."},
		{"report", "loadgen/refworker/workertest", false, "report imports loadgen/refworker/workertest: only tests may import it"},
		{"profiles", "loadgen/sender", false, "profiles imports loadgen/sender, which is on no floor: add it to the floors table (scripts/layout/floors.go)"},
	} {
		t.Run(tc.from+"->"+tc.to, func(t *testing.T) {
			m := clone(fbench)
			p := m.pkg(tc.from)
			if p == nil {
				t.Fatalf("no package %s", tc.from)
			}
			if tc.test {
				p.TestImports = append(p.TestImports, tc.to)
			} else {
				p.Imports = append(p.Imports, tc.to)
			}
			if got := fbenchHouse().Check(m); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("a package on no floor", func(t *testing.T) {
		m := clone(fbench)
		m.Packages = append(m.Packages, &Package{Path: "loadgen/stray"})
		if got := fbenchHouse().Check(m); len(got) != 1 || !strings.HasPrefix(got[0], "loadgen/stray is on no floor: add it to the floors table") {
			t.Errorf("got %q", got)
		}
	})
}

// clone copies a module deep enough to add imports and packages to the copy.
func clone(m *Module) *Module {
	c := &Module{Path: m.Path}
	for _, p := range m.Packages {
		q := *p
		q.Imports, q.TestImports = slices.Clone(p.Imports), slices.Clone(p.TestImports)
		c.Packages = append(c.Packages, &q)
	}
	return c
}

// The README's Layout table names every package on its floor.
func TestReadmeLayoutMatchesFloors(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range fbenchHouse().ReadmeDrift(string(b)) {
		t.Error(d)
	}
}

// A table that misses a package, or puts one on another floor, is reported.
func TestReadmeDriftIsReported(t *testing.T) {
	h := House{Floors: map[string]int{"a": 0, "a/b": 1, "c": 2, "scripts/tool": 3}}
	readme := "# x\n\n## Layout\n\n| floor | package | what |\n|---|---|---|\n" +
		"| 1 | `a/b/` | b |\n| 0 | `a`, `c` | a and c |\n| – | `scripts/` | `tool` |\n\n## Next\n| 2 | `c` | not in the section |\n"
	got := h.ReadmeDrift(readme)
	want := []string{"c: the README's Layout table puts it on floor 0, the floors table on 2"}
	if !slices.Equal(got, want) {
		t.Errorf("drift %q, want %q", got, want)
	}
	h.Floors["d"] = 1
	if got := h.ReadmeDrift(readme); len(got) != 2 || got[1] != "d: not in the README's Layout table" {
		t.Errorf("drift %q, want d missing", got)
	}
	if got := h.ReadmeDrift("# no layout\n"); len(got) != 1 {
		t.Errorf("drift %q, want the missing section", got)
	}
}
