package main

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// ReadmeDrift compares the "## Layout" section of a README with the floors table: every package
// must be named (in backticks, its path or, under scripts/, its last element) in a row whose first
// cell is its floor ("–" for scripts/). It returns one line per package the section misses or
// puts on another floor.
func (h House) ReadmeDrift(readme string) []string {
	rows := layoutRows(readme)
	if rows == nil {
		return []string{"README has no \"## Layout\" table"}
	}
	var drift []string
	for pkg, floor := range h.Floors {
		want, name := strconv.Itoa(floor), "`"+pkg
		if strings.HasPrefix(pkg, "scripts/") {
			want, name = "–", "`"+path.Base(pkg)+"`"
		}
		row, ok := findRow(rows, pkg, name)
		switch {
		case !ok:
			drift = append(drift, fmt.Sprintf("%s: not in the README's Layout table", pkg))
		case row[0] != want:
			drift = append(drift, fmt.Sprintf("%s: the README's Layout table puts it on floor %s, the floors table on %s", pkg, row[0], want))
		}
	}
	sort.Strings(drift)
	return drift
}

// layoutRows are the cells of the table rows in the "## Layout" section (nil: no such section).
func layoutRows(readme string) [][]string {
	i := strings.Index(readme, "\n## Layout\n")
	if i < 0 {
		return nil
	}
	section := readme[i+len("\n## Layout\n"):]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	rows := [][]string{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for k := range cells {
			cells[k] = strings.TrimSpace(cells[k])
		}
		if len(cells) >= 2 {
			rows = append(rows, cells)
		}
	}
	return rows
}

// findRow is the row whose second cell names pkg: "`pkg`", "`pkg/`" or, for scripts/, name.
func findRow(rows [][]string, pkg, name string) ([]string, bool) {
	for _, r := range rows {
		c := r[1]
		if strings.HasPrefix(pkg, "scripts/") {
			if strings.Contains(c, "`scripts/`") && strings.Contains(r[len(r)-1], name) {
				return r, true
			}
			continue
		}
		if strings.Contains(c, name+"`") || strings.Contains(c, name+"/`") {
			return r, true
		}
	}
	return nil, false
}
