package host

import (
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fbench/fbench/protos/rpc"
)

// MaxMessageLength is the message size limit the host uses both ways and passes to workers.
const MaxMessageLength = math.MaxInt32

// Stream is the server side of one worker's EventStream.
type Stream = rpc.FunctionRpc_EventStreamServer

// Server is fbench's FunctionRpc server. It listens on 127.0.0.1 only, on an ephemeral port, and
// accepts exactly one EventStream per worker id it was told to expect; anything else is refused
// and counted.
type Server struct {
	rpc.UnimplementedFunctionRpcServer
	lis  net.Listener
	grpc *grpc.Server
	port int

	mu       sync.Mutex
	expected map[string]*session // worker id → session waiting for (or holding) its stream

	refused atomic.Int64

	// guard kills the workers' process groups if fbench dies (nil: it could not start; guardErr says why).
	guard    *guard
	guardErr error
}

// session is the meeting point of a launched worker and its stream.
type session struct {
	first  *rpc.StreamingMessage // the StartStream message
	stream chan Stream           // receives the stream once StartStream arrived
	done   chan struct{}         // closed by the host side to end the stream
	taken  bool

	firstAt time.Time // when StartStream was received (a staged start's timing)
}

// NewServer starts listening on 127.0.0.1 with an ephemeral port and serves in the background.
func NewServer() (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on 127.0.0.1: %w", err)
	}
	s := &Server{
		lis:      lis,
		port:     lis.Addr().(*net.TCPAddr).Port,
		expected: map[string]*session{},
	}
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxMessageLength),
		grpc.MaxSendMsgSize(MaxMessageLength),
		// Larger windows than the defaults: one stream carries every invocation.
		grpc.InitialWindowSize(1<<24),
		grpc.InitialConnWindowSize(1<<24),
		grpc.WriteBufferSize(256<<10),
		grpc.ReadBufferSize(256<<10),
		grpc.ForceServerCodecV2(newCodec()),
	)
	rpc.RegisterFunctionRpcServer(s.grpc, s)
	go func() { _ = s.grpc.Serve(lis) }()
	// Started now, so that no worker's start (a cold start measured) pays for it.
	s.guard, s.guardErr = startGuard()
	return s, nil
}

// Port is the TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// URI is the server address as the host passes it in --functions-uri (with its trailing slash).
func (s *Server) URI() string { return fmt.Sprintf("http://127.0.0.1:%d/", s.port) }

// Refused counts streams that were refused: a stranger, a wrong first message or a second stream.
func (s *Server) Refused() int64 { return s.refused.Load() }

// Close stops the server and ends every stream.
func (s *Server) Close() {
	s.grpc.Stop()
	s.guard.close()
}

// expect registers a worker id before its process is launched.
func (s *Server) expect(workerID string) *session {
	ss := &session{stream: make(chan Stream, 1), done: make(chan struct{})}
	s.mu.Lock()
	s.expected[workerID] = ss
	s.mu.Unlock()
	return ss
}

// forget removes a worker id: later streams with it are refused.
func (s *Server) forget(workerID string) {
	s.mu.Lock()
	delete(s.expected, workerID)
	s.mu.Unlock()
}

// EventStream implements rpc.FunctionRpcServer. The first message must be StartStream with a worker
// id fbench launched and has not seen a stream for; the stream then belongs to that worker until
// the host side ends it.
func (s *Server) EventStream(stream rpc.FunctionRpc_EventStreamServer) error {
	first, err := stream.Recv()
	firstAt := time.Now()
	if err != nil {
		s.refused.Add(1)
		return err
	}
	ssm := first.GetStartStream()
	if ssm == nil || ssm.GetWorkerId() == "" {
		s.refused.Add(1)
		return status.Error(codes.FailedPrecondition, "the first message must be StartStream with a worker id")
	}
	s.mu.Lock()
	ss, ok := s.expected[ssm.GetWorkerId()]
	if ok && ss.taken {
		ok = false
	}
	if ok {
		ss.taken = true
		ss.first = first
		ss.firstAt = firstAt
	}
	s.mu.Unlock()
	if !ok {
		s.refused.Add(1)
		return status.Errorf(codes.PermissionDenied, "worker id %q was not launched by this host or already has a stream", ssm.GetWorkerId())
	}
	ss.stream <- stream
	select {
	case <-ss.done:
		return nil
	case <-stream.Context().Done():
		return stream.Context().Err()
	}
}

// errStreamRefused is returned when no valid stream arrived.
var errStreamRefused = errors.New("stream refused")
