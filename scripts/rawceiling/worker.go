package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/debug"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fbench/fbench/protos/rpc"
)

// workerMain is the child process: it connects to the host, opens EventStream, sends StartStream
// and answers every InvocationRequest with an echo InvocationResponse until the stream ends.
func workerMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 0, "host port on 127.0.0.1")
	workerID := fs.String("workerId", "rawceiling", "worker id sent in StartStream (set by a Functions host such as fbench)")
	requestID := fs.String("requestId", "rawceiling", "request id of StartStream (set by a Functions host)")
	// The rest of the host's arguments: accepted so that fbench can launch this worker as it
	// launches any other (the legacy --host/--port set is what it connects with).
	fs.String("host", "127.0.0.1", "host address (only 127.0.0.1 is used)")
	fs.Int("grpcMaxMessageLength", 0, "ignored (the limit is fbench's)")
	fs.String("functions-uri", "", "ignored (--port is used)")
	functionsWorkerID := fs.String("functions-worker-id", "", "worker id (overrides --workerId)")
	functionsRequestID := fs.String("functions-request-id", "", "request id (overrides --requestId)")
	fs.Int("functions-grpc-max-message-length", 0, "ignored")
	mode := fs.String("mode", "inline", "inline: answer on the reader goroutine; chan: hand off to a sender goroutine")
	procs := fs.Int("procs", 0, "GOMAXPROCS (0 = leave)")
	gc := fs.Int("gc", 0, "GOGC percent (0 = leave)")
	profile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *profile != "" {
		stopProfile, err := startProfile(*profile)
		if err != nil {
			fmt.Fprintln(stderr, "worker:", err)
			return 1
		}
		defer stopProfile()
	}
	if *port <= 0 {
		fmt.Fprintln(stderr, "worker: --port is required")
		return 2
	}
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if *gc != 0 {
		debug.SetGCPercent(*gc)
	}
	if *functionsWorkerID != "" {
		*workerID = *functionsWorkerID
	}
	if *functionsRequestID != "" {
		*requestID = *functionsRequestID
	}
	if err := runWorker(*port, *mode, *workerID, *requestID); err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	return 0
}

func runWorker(port int, mode, workerID, requestID string) error {
	conn, err := grpc.NewClient(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(windowSize),
		grpc.WithInitialConnWindowSize(windowSize),
		grpc.WithWriteBufferSize(bufferSize),
		grpc.WithReadBufferSize(bufferSize),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg)))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := rpc.NewFunctionRpcClient(conn).EventStream(ctx)
	if err != nil {
		return err
	}
	start := &rpc.StreamingMessage{RequestId: requestID, Content: &rpc.StreamingMessage_StartStream{
		StartStream: &rpc.StartStream{WorkerId: workerID}}}
	if err := stream.Send(start); err != nil {
		return err
	}
	switch mode {
	case "inline":
		err = answerInline(stream)
	case "chan":
		err = answerChan(stream)
	default:
		return fmt.Errorf("unknown --mode %q", mode)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, errTerminated) {
		return nil
	}
	return err
}

// echo is the reusable response: only invocation_id and the body change per invocation.
type echo struct {
	msg  *rpc.StreamingMessage
	resp *rpc.InvocationResponse
	body *rpc.TypedData_Bytes
}

func newEcho() *echo {
	e := &echo{
		resp: &rpc.InvocationResponse{Result: &rpc.StatusResult{Status: rpc.StatusResult_Success}},
		body: &rpc.TypedData_Bytes{},
	}
	// The reference worker's echo answer: status 200, its content type, the body echoed.
	e.resp.ReturnValue = &rpc.TypedData{Data: &rpc.TypedData_Http{Http: &rpc.RpcHttp{
		StatusCode: "200",
		Headers:    map[string]string{"Content-Type": "application/octet-stream"},
		Body:       &rpc.TypedData{Data: e.body},
	}}}
	e.msg = &rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationResponse{InvocationResponse: e.resp}}
	return e
}

// requestBody is the HTTP body of the request binding (nil when it has none).
func requestBody(r *rpc.InvocationRequest) []byte {
	for _, b := range r.InputData {
		if h := b.GetData().GetHttp(); h != nil {
			return h.GetBody().GetBytes()
		}
	}
	return nil
}

// answerInline receives and answers on one goroutine. Send only encodes and queues (grpc's loopy
// writer goroutine does the socket writes), so no hand-off is needed; the message is marshalled
// before Send returns, so the response struct and the received request can both be reused.
func answerInline(stream grpc.BidiStreamingClient[rpc.StreamingMessage, rpc.StreamingMessage]) error {
	e := newEcho()
	in := &rpc.StreamingMessage{}
	for {
		if err := stream.RecvMsg(in); err != nil {
			return err
		}
		r := in.GetInvocationRequest()
		if r == nil {
			if err := answerControl(stream, in); err != nil {
				return err
			}
			continue
		}
		e.resp.InvocationId = r.InvocationId
		e.body.Bytes = requestBody(r)
		if err := stream.Send(e.msg); err != nil {
			return err
		}
	}
}

type answer struct {
	id   string
	body []byte
}

// answerChan receives on this goroutine and sends from another, the two joined by a channel.
func answerChan(stream grpc.BidiStreamingClient[rpc.StreamingMessage, rpc.StreamingMessage]) error {
	ch := make(chan answer, 4096)
	sendErr := make(chan error, 1)
	go func() {
		e := newEcho()
		for a := range ch {
			e.resp.InvocationId = a.id
			e.body.Bytes = a.body
			if err := stream.Send(e.msg); err != nil {
				sendErr <- err
				for range ch {
				}
				return
			}
		}
		sendErr <- nil
	}()
	var err error
	in := &rpc.StreamingMessage{} // reusable: Unmarshal resets it and copies id and body out
	for {
		if err = stream.RecvMsg(in); err != nil {
			break
		}
		if r := in.GetInvocationRequest(); r != nil {
			ch <- answer{r.InvocationId, requestBody(r)}
		} else if err = answerControl(stream, in); err != nil {
			break
		}
	}
	close(ch)
	if se := <-sendErr; se != nil && !errors.Is(err, io.EOF) {
		return se
	}
	return err
}
