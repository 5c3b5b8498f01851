package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	m, err := Load(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "layout:", err)
		os.Exit(1)
	}
	h := fbenchHouse()
	write(os.Stdout, m, h)
	if bad := h.Check(m); len(bad) > 0 {
		fmt.Fprintln(os.Stderr, "\nimports against the house:")
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "  "+b)
		}
		os.Exit(1)
	}
}

// write writes the module's lines per package, its longest functions and its import graph,
// package by package from the top floor down.
func write(w io.Writer, m *Module, h House) {
	byFloor := m.byFloor(h)
	fmt.Fprintln(w, "lines of Go outside tests, per package (floor)")
	total := 0
	for _, p := range byFloor {
		gen := ""
		if p.GeneratedLines > 0 {
			gen = fmt.Sprintf("  (%d generated)", p.GeneratedLines)
		}
		fmt.Fprintf(w, "  %-30s %s %6d%s\n", p.Path, floorName(h, p.Path), p.Lines, gen)
		total += p.Lines
	}
	fmt.Fprintf(w, "  %-30s %s %6d\n", "total", "   ", total)

	var funcs []Func
	for _, p := range m.Packages {
		funcs = append(funcs, p.Funcs...)
	}
	sort.SliceStable(funcs, func(i, j int) bool { return funcs[i].Lines > funcs[j].Lines })
	fmt.Fprintln(w, "\nlongest functions (outside tests and generated code), lines")
	for _, f := range funcs[:min(10, len(funcs))] {
		fmt.Fprintf(w, "  %4d  %s  %s:%d\n", f.Lines, f.Name, f.File, f.Line)
	}

	fmt.Fprintln(w, "\nimport graph (the module's own packages, outside tests; top floor first)")
	for _, p := range byFloor {
		imps := "-"
		if len(p.Imports) > 0 {
			imps = strings.Join(p.Imports, " ")
		}
		fmt.Fprintf(w, "  %s %-30s -> %s\n", floorName(h, p.Path), p.Path, imps)
	}
}

// byFloor is the module's packages, top floor first, then by path; those on no floor come first.
func (m *Module) byFloor(h House) []*Package {
	out := append([]*Package(nil), m.Packages...)
	floor := func(p *Package) int {
		if f, ok := h.Floors[p.Path]; ok {
			return f
		}
		return 1 << 30
	}
	sort.SliceStable(out, func(i, j int) bool { return floor(out[i]) > floor(out[j]) })
	return out
}

func floorName(h House, path string) string {
	if f, ok := h.Floors[path]; ok {
		return fmt.Sprintf("F%d", f)
	}
	return "F? "
}
