package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// A Module is a Go module's own packages, read from its source files.
type Module struct {
	Path     string     // the module path, from go.mod
	Packages []*Package // sorted by path
}

// A Package is one directory's Go files.
type Package struct {
	Path           string   // inside the module: "loadgen/host"; "." for the module's root
	Lines          int      // lines of Go outside tests
	GeneratedLines int      // of which generated ("Code generated ... DO NOT EDIT.")
	Imports        []string // the module's packages its non-test files import, by path inside the module
	TestImports    []string // those its test files import (beyond Imports)
	Funcs          []Func   // the functions of its non-test, non-generated files
}

// A Func is one function or method declaration.
type Func struct {
	Name  string // "send", "(*sender).pace"
	File  string // inside the module
	Line  int
	Lines int // from func to its closing brace
}

var (
	generated     = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)
	packageClause = regexp.MustCompile(`(?m)^package `)
)

// header is a file's text before its package clause, where the generated-code line stands.
func header(src []byte) []byte {
	if loc := packageClause.FindIndex(src); loc != nil {
		return src[:loc[0]]
	}
	return src
}

// Load reads the module rooted at root: every directory below it with Go files, except testdata,
// hidden directories and nested modules.
func Load(root string) (*Module, error) {
	modPath, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	m := &Module{Path: modPath}
	pkgs := map[string]*Package{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || exists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		dir := filepath.ToSlash(filepath.Dir(rel))
		p := pkgs[dir]
		if p == nil {
			p = &Package{Path: dir}
			pkgs[dir] = p
		}
		if err := p.add(fset, modPath, path, filepath.ToSlash(rel)); err != nil {
			return fmt.Errorf("reading %s: %w", rel, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range pkgs {
		slices.Sort(p.Imports)
		p.Imports = slices.Compact(p.Imports)
		slices.Sort(p.TestImports)
		p.TestImports = slices.DeleteFunc(slices.Compact(p.TestImports), func(s string) bool { return slices.Contains(p.Imports, s) })
		m.Packages = append(m.Packages, p)
	}
	sort.Slice(m.Packages, func(i, j int) bool { return m.Packages[i].Path < m.Packages[j].Path })
	return m, nil
}

// add reads one file of the package.
func (p *Package) add(fset *token.FileSet, modPath, path, rel string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	test := strings.HasSuffix(path, "_test.go")
	gen := !test && generated.Match(header(src))
	mode := parser.ImportsOnly
	if !test && !gen {
		mode = parser.SkipObjectResolution
	}
	f, err := parser.ParseFile(fset, path, src, mode)
	if err != nil {
		return err
	}
	for _, spec := range f.Imports {
		ip, _ := strconv.Unquote(spec.Path.Value)
		if ip != modPath && !strings.HasPrefix(ip, modPath+"/") {
			continue
		}
		own := strings.TrimPrefix(strings.TrimPrefix(ip, modPath), "/")
		if own == "" {
			own = "."
		}
		if test {
			p.TestImports = append(p.TestImports, own)
		} else {
			p.Imports = append(p.Imports, own)
		}
	}
	if test {
		return nil
	}
	n := bytes.Count(src, []byte("\n"))
	if len(src) > 0 && src[len(src)-1] != '\n' {
		n++
	}
	p.Lines += n
	if gen {
		p.GeneratedLines += n
		return nil
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		start, end := fset.Position(fd.Pos()).Line, fset.Position(fd.End()).Line
		p.Funcs = append(p.Funcs, Func{Name: funcName(fd), File: rel, Line: start, Lines: end - start + 1})
	}
	return nil
}

// funcName is a declaration's name, its receiver's type first for a method: "(*sender).pace".
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	star := ""
	if s, ok := t.(*ast.StarExpr); ok {
		star, t = "*", s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	name := "?"
	if id, ok := t.(*ast.Ident); ok {
		name = id.Name
	}
	return "(" + star + name + ")." + fd.Name.Name
}

func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", fmt.Errorf("reading the module path: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// A House is the rules a module's imports keep: the floors table and its exceptions.
type House struct {
	Floors    map[string]int     // each package's floor
	SameFloor map[[2]string]bool // {importer, imported} allowed on one floor
	TestOnly  map[string]bool    // packages only tests import
}

// fbenchHouse is fbench's: the tables in floors.go.
func fbenchHouse() House { return House{Floors: floors, SameFloor: sameFloor, TestOnly: testOnly} }

// Check returns, one line each, every package missing from the floors table and every import that
// breaks the house's rules, naming the importer and the imported package.
func (h House) Check(m *Module) []string {
	var bad []string
	for _, p := range m.Packages {
		if _, ok := h.Floors[p.Path]; !ok {
			bad = append(bad, fmt.Sprintf("%s is on no floor: add it to the floors table (scripts/layout/floors.go)", p.Path))
		}
	}
	for _, p := range m.Packages {
		for _, imp := range p.Imports {
			if msg := h.edge(p.Path, imp, false); msg != "" {
				bad = append(bad, msg)
			}
		}
		for _, imp := range p.TestImports {
			if msg := h.edge(p.Path, imp, true); msg != "" {
				bad = append(bad, msg)
			}
		}
	}
	return bad
}

// edge is what is wrong with from importing to ("" when nothing): test says the import is in test
// files, where only the cmd rule applies.
func (h House) edge(from, to string, test bool) string {
	if isCmd(to) && !isCmd(from) {
		return fmt.Sprintf("%s imports %s: nothing outside cmd/ imports cmd/...", from, to)
	}
	if test {
		return ""
	}
	if h.TestOnly[to] {
		return fmt.Sprintf("%s imports %s: only tests may import it", from, to)
	}
	ff, ok1 := h.Floors[from]
	tf, ok2 := h.Floors[to]
	switch {
	case !ok1:
		return "" // reported as missing from the table
	case !ok2:
		return fmt.Sprintf("%s imports %s, which is on no floor: add it to the floors table (scripts/layout/floors.go)", from, to)
	case tf > ff:
		return fmt.Sprintf("%s (floor %d) imports %s (floor %d): a package imports only lower floors", from, ff, to, tf)
	case tf == ff && !h.SameFloor[[2]string{from, to}]:
		return fmt.Sprintf("%s imports %s, both on floor %d: not allowed in sameFloor", from, to, ff)
	}
	return ""
}

func isCmd(p string) bool { return p == "cmd" || strings.HasPrefix(p, "cmd/") }

// pkg is the package at path inside the module, or nil.
func (m *Module) pkg(path string) *Package {
	for _, p := range m.Packages {
		if p.Path == path {
			return p
		}
	}
	return nil
}
