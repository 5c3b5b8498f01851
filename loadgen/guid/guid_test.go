package guid

import (
	"regexp"
	"testing"
)

var canonical = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestFormatAndUniqueness(t *testing.T) {
	seen := map[string]bool{}
	g := NewGenerator(1)
	for i := 0; i < 10000; i++ {
		for _, id := range []string{New(), g.Next()} {
			if !canonical.MatchString(id) {
				t.Fatalf("%q is not a canonical v4 GUID", id)
			}
			if seen[id] {
				t.Fatalf("duplicate GUID %q", id)
			}
			seen[id] = true
		}
	}
}

func TestGeneratorIsSeeded(t *testing.T) {
	a, b, c := NewGenerator(7), NewGenerator(7), NewGenerator(8)
	for i := 0; i < 100; i++ {
		x, y, z := a.Next(), b.Next(), c.Next()
		if x != y {
			t.Fatalf("same seed, different ids: %s %s", x, y)
		}
		if x == z {
			t.Fatalf("different seeds, same id: %s", x)
		}
	}
}

func BenchmarkGenerator(b *testing.B) {
	g := NewGenerator(1)
	b.ReportAllocs()
	for b.Loop() {
		_ = g.Next()
	}
}

func TestTraceParentFormat(t *testing.T) {
	tp := TraceParent("1d6c0f7e-8b1c-4a56-9d7e-0123456789ab")
	if tp != "00-1d6c0f7e8b1c4a569d7e0123456789ab-1d6c0f7e8b1c4a56-01" {
		t.Fatalf("traceparent %q", tp)
	}
}
