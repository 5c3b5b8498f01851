package coldstart

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/fbench/fbench/loadgen/host"
)

// Resolve refuses a worker that cannot be launched and defaults the run directory.
func TestPlanResolve(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		missing   bool
		wantOut   string // a pattern
		wantErr   string
	}{
		{name: "default directory", wantOut: `^fbench-results/\d{8}T\d{6}Z-coldstart$`},
		{name: "given directory", out: "here", wantOut: `^here$`},
		{name: "missing worker", missing: true, wantErr: "worker /nonexistent/worker: not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Plan{Config: config(t, ""), Out: tc.out}
			if tc.missing {
				p.Config.Host.Launch = host.Launch{Worker: "/nonexistent/worker"}
			}
			err := p.Resolve()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(tc.wantOut).MatchString(filepath.ToSlash(p.Out)) {
				t.Fatalf("out %q, want %s", p.Out, tc.wantOut)
			}
		})
	}
}
