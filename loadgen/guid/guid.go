package guid

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
)

// New returns a GUID from the operating system's random source.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return format(&b)
}

// Generator makes GUIDs from a seeded ChaCha8 stream: cheap enough for every invocation, and
// reproducible for a given seed. Not safe for concurrent use.
type Generator struct {
	rng *mrand.ChaCha8
}

// NewGenerator returns a generator seeded with seed.
func NewGenerator(seed uint64) *Generator {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	binary.LittleEndian.PutUint64(s[8:], 0x6662656e6368) // "fbench": keeps seed 0 distinct from an all-zero key
	return &Generator{rng: mrand.NewChaCha8(s)}
}

// Next returns the next GUID.
func (g *Generator) Next() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], g.rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], g.rng.Uint64())
	return format(&b)
}

const hexDigits = "0123456789abcdef"

// format writes b as a version 4, variant 1 UUID.
func format(b *[16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j] = hexDigits[b[i]>>4]
		out[j+1] = hexDigits[b[i]&0x0f]
		j += 2
	}
	return string(out[:])
}

// TraceParent is the W3C traceparent fbench sends with an invocation, derived from its id (unique
// per invocation): version 00, the id's 32 hex digits as trace id, its first 16 as parent id, sampled.
func TraceParent(id string) string {
	var b [55]byte
	copy(b[:], "00-")
	j := 3
	for i := 0; i < len(id) && j < 35; i++ {
		if id[i] != '-' {
			b[j] = id[i]
			j++
		}
	}
	b[35] = '-'
	copy(b[36:52], b[3:19])
	copy(b[52:], "-01")
	return string(b[:])
}
