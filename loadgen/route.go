package loadgen

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultRoutePrefix is the host's HTTP route prefix (host.json extensions.http.routePrefix).
const DefaultRoutePrefix = "api"

// routeParam is one {parameter} of an ASP.NET Core route template: {id}, {id?}, {id=5},
// {id:int}, {*rest} or {**rest}.
type routeParam struct {
	name     string
	optional bool
	def      string
	hasDef   bool
	catchAll bool
}

// routePart is a literal run of text or a parameter; a segment is a list of parts.
type routePart struct {
	literal string
	param   *routeParam
}

// parseRouteTemplate splits a route template into segments of parts.
func parseRouteTemplate(tmpl string) ([][]routePart, error) {
	tmpl = strings.Trim(tmpl, "/")
	if tmpl == "" {
		return nil, nil
	}
	var segs [][]routePart
	for _, seg := range strings.Split(tmpl, "/") {
		var parts []routePart
		for len(seg) > 0 {
			open := strings.IndexByte(seg, '{')
			if open < 0 {
				parts = append(parts, routePart{literal: seg})
				break
			}
			if open > 0 {
				parts = append(parts, routePart{literal: seg[:open]})
			}
			// The parameter ends at the matching '}' (constraints such as regex(...) may hold braces).
			depth, end := 0, -1
			for i := open; i < len(seg); i++ {
				switch seg[i] {
				case '{':
					depth++
				case '}':
					depth--
				}
				if depth == 0 {
					end = i
					break
				}
			}
			if end < 0 {
				return nil, fmt.Errorf("route template %q: unclosed {", tmpl)
			}
			p, err := parseRouteParam(seg[open+1 : end])
			if err != nil {
				return nil, fmt.Errorf("route template %q: %v", tmpl, err)
			}
			parts = append(parts, routePart{param: p})
			seg = seg[end+1:]
		}
		segs = append(segs, parts)
	}
	return segs, nil
}

func parseRouteParam(s string) (*routeParam, error) {
	p := &routeParam{}
	if strings.HasPrefix(s, "**") {
		p.catchAll, s = true, s[2:]
	} else if strings.HasPrefix(s, "*") {
		p.catchAll, s = true, s[1:]
	}
	// name, then :constraint…, =default or ? (in that order in a template).
	end := strings.IndexAny(s, ":=?")
	if end < 0 {
		end = len(s)
	}
	p.name = s[:end]
	if p.name == "" {
		return nil, fmt.Errorf("a parameter without a name: {%s}", s)
	}
	rest := s[end:]
	if strings.HasSuffix(rest, "?") {
		p.optional, rest = true, rest[:len(rest)-1]
	}
	depth := 0
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '=':
			if depth == 0 {
				p.def, p.hasDef = rest[i+1:], true
				i = len(rest)
			}
		}
	}
	return p, nil
}

// hostJSONRoutePrefix reads extensions.http.routePrefix from the app's host.json; ok is false
// when the file or the setting is absent (the prefix is then DefaultRoutePrefix).
func hostJSONRoutePrefix(appDir string) (prefix string, ok bool) {
	b, err := os.ReadFile(filepath.Join(appDir, "host.json"))
	if err != nil {
		return "", false
	}
	var hj struct {
		Extensions struct {
			HTTP struct {
				RoutePrefix *string `json:"routePrefix"`
			} `json:"http"`
		} `json:"extensions"`
	}
	if json.Unmarshal(b, &hj) != nil || hj.Extensions.HTTP.RoutePrefix == nil {
		return "", false
	}
	return *hj.Extensions.HTTP.RoutePrefix, true
}

// route is a function's URL path and route values as the host derives them from its template.
type route struct {
	path   string      // escaped, e.g. /api/items/42
	values [][2]string // non-null route values (given or defaults), in template order
}

// buildRoute fills template (a function's route, or its name when empty) under prefix with
// given: a parameter with neither a value nor a default is an error unless optional (it is then
// left out: null, as the host leaves it).
func buildRoute(fn, template, prefix string, given map[string]string) (route, error) {
	if template == "" {
		template = fn
	}
	segs, err := parseRouteTemplate(template)
	if err != nil {
		return route{}, fmt.Errorf("function %s: %v", fn, err)
	}
	var r route
	var b strings.Builder
	if p := strings.Trim(prefix, "/"); p != "" {
		b.WriteString("/" + p)
	}
	var missing []string
	for _, seg := range segs {
		var sb strings.Builder
		empty := true
		for _, part := range seg {
			if part.param == nil {
				sb.WriteString(escapePath(part.literal, false))
				empty = false
				continue
			}
			p := part.param
			v, ok := lookupFold(given, p.name)
			if !ok && p.hasDef {
				v, ok = p.def, true
			}
			if !ok {
				if !p.optional && !p.catchAll {
					missing = append(missing, p.name)
				}
				continue
			}
			r.values = append(r.values, [2]string{p.name, v})
			sb.WriteString(escapePath(v, p.catchAll))
			empty = false
		}
		if !empty {
			b.WriteString("/" + sb.String())
		}
	}
	if len(missing) > 0 {
		return route{}, &MissingRouteParamError{fmt.Sprintf("function %s: route %q needs a value for {%s} (give --route-param %s=VALUE)",
			fn, template, strings.Join(missing, "}, {"), missing[0])}
	}
	r.path = b.String()
	if r.path == "" {
		r.path = "/"
	}
	return r, nil
}

// MissingRouteParamError is a route template parameter with no value: the request cannot be built.
type MissingRouteParamError struct{ msg string }

func (e *MissingRouteParamError) Error() string { return e.msg }

// routeParamNames lists the parameter names of a template (for checking --route-param keys).
func routeParamNames(fn, template string) []string {
	if template == "" {
		template = fn
	}
	segs, err := parseRouteTemplate(template)
	if err != nil {
		return nil
	}
	var out []string
	for _, seg := range segs {
		for _, p := range seg {
			if p.param != nil {
				out = append(out, p.param.name)
			}
		}
	}
	return out
}

// checkRouteParams reports a --route-param that no invoked function's route has.
func checkRouteParams(given map[string]string, templates map[string]string) error {
	known := map[string]bool{}
	for fn, t := range templates {
		for _, n := range routeParamNames(fn, t) {
			known[strings.ToLower(n)] = true
		}
	}
	var unknown []string
	for k := range given {
		if !known[strings.ToLower(k)] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("--route-param %s: no invoked function's route has a {%s} parameter", unknown[0], unknown[0])
}

// lookupFold finds key in m case-insensitively (route values are case-insensitive in ASP.NET).
func lookupFold(m map[string]string, key string) (string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// escapePath escapes a route value for the URL path; a catch-all keeps its slashes.
func escapePath(s string, keepSlash bool) string {
	if !keepSlash {
		return url.PathEscape(s)
	}
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
