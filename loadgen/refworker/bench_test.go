package refworker

import (
	"errors"
	"math"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/fbench/fbench/protos/rpc"
)

// benchHost drives b.N echo invocations with up to window outstanding.
type benchHost struct {
	rpc.UnimplementedFunctionRpcServer
	n, window int
	body      []byte
	done      chan time.Duration
}

func (h *benchHost) EventStream(s grpc.BidiStreamingServer[rpc.StreamingMessage, rpc.StreamingMessage]) error {
	if _, err := s.Recv(); err != nil { // StartStream
		return err
	}
	s.Send(initRequest())
	if _, err := s.Recv(); err != nil {
		return err
	}
	id := functionID("echo")
	s.Send(loadRequest(id, "echo"))
	if _, err := s.Recv(); err != nil {
		return err
	}
	credit := make(chan struct{}, h.window)
	recvErr := make(chan error, 1)
	t0 := time.Now()
	go func() {
		for got := 0; got < h.n; {
			m, err := s.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			if m.GetInvocationResponse() != nil {
				got++
				<-credit
			}
		}
		recvErr <- nil
	}()
	for i := range h.n {
		credit <- struct{}{}
		if err := s.Send(httpInvocation(strconv.Itoa(i), id, h.body)); err != nil {
			return err
		}
	}
	err := <-recvErr
	h.done <- time.Since(t0)
	if err != nil {
		return err
	}
	return errors.New("done")
}

// BenchmarkEcho measures end-to-end echo invocations through a real gRPC
// stream (host and worker share the CPUs, so this is a lower bound).
func BenchmarkEcho(b *testing.B) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	h := &benchHost{n: b.N, window: 1000, body: []byte("hello"), done: make(chan time.Duration, 1)}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(math.MaxInt32), grpc.MaxSendMsgSize(math.MaxInt32))
	rpc.RegisterFunctionRpcServer(srv, h)
	go srv.Serve(lis)
	defer srv.Stop()
	port := strconv.Itoa(lis.Addr().(*net.TCPAddr).Port)
	code := make(chan int, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		code <- Main([]string{"--functions-uri", "http://127.0.0.1:" + port + "/", "--functions-worker-id", "bench"}, os.Stdout, &syncBuffer{})
	}()
	d := <-h.done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/d.Seconds(), "inv/s")
	<-code
}
