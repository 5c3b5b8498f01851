package loadgen

import (
	"strconv"
	"strings"
	"testing"
)

// keyOf against a plain reading of the GUID's hex digits, for valid ids in both cases and for
// every single-byte corruption of one.
func TestKeyOf(t *testing.T) {
	ref := func(id string) (idKey, bool) {
		if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
			return idKey{}, false
		}
		hex := id[:8] + id[9:13] + id[14:18] + id[19:23] + id[24:]
		if strings.Trim(hex, "0123456789abcdefABCDEF") != "" {
			return idKey{}, false
		}
		hi, err1 := strconv.ParseUint(hex[:16], 16, 64)
		lo, err2 := strconv.ParseUint(hex[16:], 16, 64)
		if err1 != nil || err2 != nil {
			return idKey{}, false
		}
		return idKey{hi, lo}, true
	}
	ids := []string{"0123abcd-4567-89ef-ABCD-0123456789Ef", "ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-0000-0000-000000000000"}
	for _, id := range ids {
		for pos := 0; pos <= len(id); pos++ {
			for _, c := range []byte{'0', '9', 'a', 'f', 'A', 'F', 'g', 'G', '-', ' ', '/', ':', '@', '`', 0, 0xff} {
				mutated := id
				if pos < len(id) {
					mutated = id[:pos] + string([]byte{c}) + id[pos+1:]
				} else {
					mutated = id + string([]byte{c}) // too long
				}
				want, wantOK := ref(mutated)
				got, gotOK := keyOf(mutated)
				gotB, gotBOK := keyOf([]byte(mutated))
				if gotOK != wantOK || gotBOK != gotOK || (wantOK && (got != want || gotB != want)) {
					t.Fatalf("keyOf(%q) = %x %v (bytes %x %v), want %x %v", mutated, got, gotOK, gotB, gotBOK, want, wantOK)
				}
			}
		}
	}
}

func BenchmarkKeyOf(b *testing.B) {
	id := []byte("0123abcd-4567-89ef-abcd-0123456789ef")
	for b.Loop() {
		if _, ok := keyOf(id); !ok {
			b.Fatal("rejected")
		}
	}
}
