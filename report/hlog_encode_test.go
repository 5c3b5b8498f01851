package report

import (
	"bytes"
	"math/rand/v2"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The reusing encoder writes exactly the library's bytes, for histograms of every shape, one
// encoder across all of them (its reused state must not leak from one to the next).
func TestHlogEncoderMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var hists []*hdrhistogram.Histogram
	hists = append(hists, NewHistogram()) // empty
	one := NewHistogram()
	_ = one.RecordValue(1)
	hists = append(hists, one)
	top := NewHistogram()
	_ = top.RecordValue(HistHighest)
	_ = top.RecordValues(3, 1<<40) // a count that needs the 9-byte form's neighbourhood
	hists = append(hists, top)
	for n := 0; n < 20; n++ {
		h := NewHistogram()
		for i := 0; i < 1+rng.IntN(20000); i++ {
			_ = h.RecordValue(1 + int64(rng.ExpFloat64()*float64(rng.IntN(100000)+1)))
		}
		hists = append(hists, h)
	}
	var e hlogEncoder
	for i, h := range hists {
		want, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.appendPayload([]byte("prefix,"), h)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append([]byte("prefix,"), want...)) {
			t.Fatalf("histogram %d (%d values): the encoding differs from the library's\n got %.80s\nwant %.80s", i, h.TotalCount(), got, want)
		}
		back, err := hdrhistogram.Decode(got[len("prefix,"):])
		if err != nil || !back.Equals(h) {
			t.Fatalf("histogram %d does not decode back to itself: %v", i, err)
		}
	}
}

func TestZigZag64b9B(t *testing.T) {
	for _, tc := range []struct {
		v    int64
		want []byte
	}{
		{0, []byte{0}}, {1, []byte{2}}, {-1, []byte{1}}, {63, []byte{126}}, {64, []byte{0x80, 1}},
		{-2, []byte{3}},
		{1 << 62, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}},
	} {
		if got := zigZag64b9B(nil, tc.v); !bytes.Equal(got, tc.want) {
			t.Errorf("zigZag64b9B(%d) = %x, want %x", tc.v, got, tc.want)
		}
	}
}

func BenchmarkHlogEncode(b *testing.B) {
	h := NewHistogram()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		_ = h.RecordValue(50 + int64(rng.ExpFloat64()*200))
	}
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		}
	})
	b.Run("reused", func(b *testing.B) {
		b.ReportAllocs()
		var e hlogEncoder
		var buf []byte
		for b.Loop() {
			buf, _ = e.appendPayload(buf[:0], h)
		}
	})
}
