package host

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	// Registers the proto codec this one delegates to.
	_ "google.golang.org/grpc/encoding/proto"
)

// Frame is an already-encoded StreamingMessage. The load engine sends invocations as frames built
// from per-function templates (no proto.Marshal per call) and reads responses as frames it parses
// only as far as it needs; everything else on the stream is an ordinary *rpc.StreamingMessage.
// Send one with Stream.SendMsg(&frame): the bytes then belong to gRPC. Receive one with
// Stream.RecvMsg(&frame): Bytes is overwritten (and reused) by each call.
type Frame struct {
	Bytes []byte
}

// codec is the server's gRPC codec: Frames pass through as bytes, every other message goes to the
// standard proto codec. Its name is "proto", so workers see the ordinary content type.
type codec struct {
	proto encoding.CodecV2
}

func newCodec() codec { return codec{proto: encoding.GetCodecV2("proto")} }

func (c codec) Name() string { return "proto" }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*Frame); ok {
		return mem.BufferSlice{mem.SliceBuffer(f.Bytes)}, nil
	}
	return c.proto.Marshal(v)
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*Frame); ok {
		n := data.Len()
		if cap(f.Bytes) < n {
			f.Bytes = make([]byte, n, n+n/4)
		}
		f.Bytes = f.Bytes[:n]
		data.CopyTo(f.Bytes)
		return nil
	}
	return c.proto.Unmarshal(data, v)
}
