package report

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// hlogEncoder writes a histogram's V2 compressed encoding (the hlog payload) exactly as
// hdrhistogram-go's Encode(V2CompressedEncodingCookieBase) does, byte for byte
// (TestHlogEncoderMatchesLibrary), but reuses its zlib compressor and buffers: the library builds a
// best-compression zlib writer per histogram (about a megabyte allocated and cleared), which was
// most of what a run's interval costs fbench once a second.
type hlogEncoder struct {
	zw     *zlib.Writer
	raw    bytes.Buffer // header + counts, to compress
	packed bytes.Buffer // the compressed contents
	frame  []byte       // cookie + length + compressed contents, to base64
}

// The library's cookies: V2 base | 0x10 (word size 8).
const (
	hlogEncodingCookie           = hdrhistogram.V2EncodingCookieBase | 0x10
	hlogCompressedEncodingCookie = hdrhistogram.V2CompressedEncodingCookieBase | 0x10
)

// appendPayload appends h's base64 V2 compressed encoding to b.
func (e *hlogEncoder) appendPayload(b []byte, h *hdrhistogram.Histogram) ([]byte, error) {
	snap := h.Export()
	// Counts up to the last non-zero one (index 0 when empty), as the library writes them.
	limit := 1
	for i := len(snap.Counts) - 1; i > 0; i-- {
		if snap.Counts[i] != 0 {
			limit = i + 1
			break
		}
	}
	e.raw.Reset()
	var hdr [40]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(hlogEncodingCookie))
	// hdr[4:8], the counts' length, is filled once they are written.
	binary.BigEndian.PutUint32(hdr[8:], 0) // normalizing index offset: the library's is always 0
	binary.BigEndian.PutUint32(hdr[12:], uint32(int32(snap.SignificantFigures)))
	binary.BigEndian.PutUint64(hdr[16:], uint64(snap.LowestTrackableValue))
	binary.BigEndian.PutUint64(hdr[24:], uint64(snap.HighestTrackableValue))
	binary.BigEndian.PutUint64(hdr[32:], math.Float64bits(1.0)) // integer to double ratio
	e.raw.Write(hdr[:])
	var tmp [9]byte
	for i := 0; i < limit; {
		count := snap.Counts[i]
		i++
		if count == 0 {
			zeros := int64(1)
			for i < limit && snap.Counts[i] == 0 {
				zeros++
				i++
			}
			if zeros > 1 {
				count = -zeros
			}
		}
		e.raw.Write(zigZag64b9B(tmp[:0], count))
	}
	raw := e.raw.Bytes()
	binary.BigEndian.PutUint32(raw[4:], uint32(len(raw)-40))

	e.packed.Reset()
	if e.zw == nil {
		zw, err := zlib.NewWriterLevel(&e.packed, zlib.BestCompression)
		if err != nil {
			return b, err
		}
		e.zw = zw
	} else {
		e.zw.Reset(&e.packed)
	}
	if _, err := e.zw.Write(raw); err != nil {
		return b, err
	}
	if err := e.zw.Close(); err != nil {
		return b, err
	}
	e.frame = binary.BigEndian.AppendUint32(e.frame[:0], uint32(hlogCompressedEncodingCookie))
	e.frame = binary.BigEndian.AppendUint32(e.frame, uint32(e.packed.Len()))
	e.frame = append(e.frame, e.packed.Bytes()...)
	return base64.StdEncoding.AppendEncode(b, e.frame), nil
}

// zigZag64b9B appends v as the HdrHistogram ZigZag LEB128-64b9B: 7 bits per byte for the first 8
// bytes, the 9th byte carrying the last 8 bits whole.
func zigZag64b9B(b []byte, v int64) []byte {
	u := uint64((v << 1) ^ (v >> 63))
	for i := 0; i < 8; i++ {
		if u>>7 == 0 {
			return append(b, byte(u))
		}
		b = append(b, byte(u&0x7f|0x80))
		u >>= 7
	}
	return append(b, byte(u))
}
