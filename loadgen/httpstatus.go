package loadgen

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fbench/fbench/protos/rpc"
)

// StatusSet is the set of HTTP statuses that count as success (--http-ok), as ranges.
type StatusSet struct {
	ranges [][2]int
	text   string
}

// DefaultHTTPOK is --http-ok's default, as k6 judges HTTP responses.
const DefaultHTTPOK = "200-399"

// ParseStatusSet reads a --http-ok value: codes and ranges, comma-separated (200-399, 200-299,404).
func ParseStatusSet(s string) (StatusSet, error) {
	set := StatusSet{text: s}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || a < 100 || b > 999 || a > b {
			return StatusSet{}, fmt.Errorf("invalid --http-ok %q: want HTTP status codes or ranges (100-999), e.g. 200-399 or 200-299,404", s)
		}
		set.ranges = append(set.ranges, [2]int{a, b})
	}
	return set, nil
}

// Has reports whether code is in the set; the zero set is DefaultHTTPOK.
func (s StatusSet) Has(code int) bool {
	if s.ranges == nil {
		return code >= 200 && code <= 399
	}
	for _, r := range s.ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

func (s StatusSet) String() string {
	if s.text == "" {
		return DefaultHTTPOK
	}
	return s.text
}

// httpAnswer is a proxied invocation's HTTP response as fbench read it.
type httpAnswer struct {
	status int16    // the response's status; 0: no response head came
	err    proxyErr // proxyOK: the response was read to its last byte
	head   int64    // when the response head (status line and headers) was read, ns since t0
	end    int64    // when the last byte was read (or the forwarding failed), ns since t0
	bytes  int64    // response body bytes read
}

// proxyErr is why forwarding a request to the worker's HttpUri failed.
type proxyErr uint8

const (
	proxyOK      proxyErr = iota
	proxyRefused          // the connection was refused (after the host's retries)
	proxyReset            // the connection was reset or closed before the response head
	proxyCut              // the response body was cut short (reset or closed mid-body)
	proxyFailed           // any other forwarding error
)

// Failure reasons of proxied invocations (the failures table groups invocations by them).
const (
	reasonNoInvocationResponse = "HTTP response without an InvocationResponse (none within --timeout)"
	reasonNoHTTPResponse       = "InvocationResponse without an HTTP response (none within --timeout)"
)

func (p proxyErr) reason() string {
	switch p {
	case proxyRefused:
		return "HTTP proxy: connection refused"
	case proxyReset:
		return "HTTP proxy: connection reset before the response"
	case proxyCut:
		return "HTTP proxy: response body cut short"
	case proxyFailed:
		return "HTTP proxy: forwarding failed"
	}
	return ""
}

// httpReason is the failure reason of an invocation whose HTTP status is not a success.
func httpReason(code int) string { return "HTTP " + strconv.Itoa(code) }

// Field numbers of the HTTP response in an InvocationResponse (FunctionRpc.proto).
const (
	fieldResponseOutputData  = 2  // InvocationResponse.output_data
	fieldResponseReturnValue = 4  // InvocationResponse.return_value
	fieldBindingName         = 1  // ParameterBinding.name
	fieldBindingData         = 2  // ParameterBinding.data
	fieldTypedDataHTTP       = 5  // TypedData.http
	fieldHTTPBody            = 4  // RpcHttp.body
	fieldHTTPStatusCode      = 12 // RpcHttp.status_code
)

// hostHTTPStatus is the status the host answers a caller with for a successful non-proxied
// invocation (protocol.md §8.3): from the RpcHttp of the HTTP output binding, but 200 when there is
// no HTTP value, when the RpcHttp has no body (the host then serializes the object as the body and
// ignores status_code), or when status_code is empty or not an integer.
func hostHTTPStatus[T string | []byte](isHTTP, hasBody bool, statusCode T) int {
	if !isHTTP || !hasBody {
		return 200
	}
	code, ok := parseStatusCode(statusCode)
	if !ok {
		return 200
	}
	return code
}

// parseStatusCode reads an integer as .NET's int.TryParse does (invariant culture): blanks around
// it, an optional sign, decimal digits, within int32; it does not allocate.
func parseStatusCode[T string | []byte](s T) (int, bool) {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t' || s[j-1] == '\r' || s[j-1] == '\n') {
		j--
	}
	neg := false
	if i < j && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if i == j {
		return 0, false
	}
	n := int64(0)
	for ; i < j; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n > 1<<31 {
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	if n > 1<<31-1 || n < -1<<31 {
		return 0, false
	}
	return int(n), true
}

// responseHTTPStatus reads, from an encoded StreamingMessage holding an InvocationResponse, the
// status the host would answer with for the HTTP output binding out ("$return": the return value;
// "": the function has none, so 200). ok is false for bytes it cannot read.
func responseHTTPStatus(b []byte, out string) (code int, ok bool) {
	if out == "" {
		return 200, true
	}
	resp, ok := streamingContent(b, fieldStreamingInvocationResponse)
	if !ok {
		return 0, false
	}
	value, ok := outputValue(resp, out)
	if !ok {
		return 0, false
	}
	if value == nil {
		return 200, true
	}
	httpMsg, isHTTP, ok := typedDataHTTP(value)
	if !ok {
		return 0, false
	}
	if !isHTTP {
		return 200, true
	}
	hasBody, status, ok := httpStatusFields(httpMsg)
	if !ok {
		return 0, false
	}
	return hostHTTPStatus(true, hasBody, status), true
}

// outputValue reads, from an encoded InvocationResponse, the TypedData of output binding out
// ("$return": the return value); nil when absent. ok is false for bytes it cannot read.
func outputValue(resp []byte, out string) (value []byte, ok bool) {
	for len(resp) > 0 {
		num, typ, n := protowire.ConsumeTag(resp)
		if n < 0 {
			return nil, false
		}
		resp = resp[n:]
		if typ == protowire.BytesType && (num == fieldResponseReturnValue && out == "$return" || num == fieldResponseOutputData && out != "$return") {
			v, m := protowire.ConsumeBytes(resp)
			if m < 0 {
				return nil, false
			}
			resp = resp[m:]
			if num == fieldResponseReturnValue {
				value = v
				continue
			}
			name, data, good := bindingNameData(v)
			if !good {
				return nil, false
			}
			if name == out {
				value = data
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, resp)
		if m < 0 {
			return nil, false
		}
		resp = resp[m:]
	}
	return value, true
}

// typedDataHTTP reads an encoded TypedData: whether it holds an RpcHttp (the last oneof field
// decides; only http carries a status), and that RpcHttp's bytes.
func typedDataHTTP(value []byte) (httpMsg []byte, isHTTP, ok bool) {
	for len(value) > 0 {
		num, typ, n := protowire.ConsumeTag(value)
		if n < 0 {
			return nil, false, false
		}
		value = value[n:]
		m := protowire.ConsumeFieldValue(num, typ, value)
		if m < 0 {
			return nil, false, false
		}
		isHTTP = num == fieldTypedDataHTTP && typ == protowire.BytesType
		if isHTTP {
			httpMsg, _ = protowire.ConsumeBytes(value)
		}
		value = value[m:]
	}
	return httpMsg, isHTTP, true
}

// httpStatusFields reads an encoded RpcHttp's status_code (nil when absent) and whether it has a
// body.
func httpStatusFields(httpMsg []byte) (hasBody bool, status []byte, ok bool) {
	for len(httpMsg) > 0 {
		num, typ, n := protowire.ConsumeTag(httpMsg)
		if n < 0 {
			return false, nil, false
		}
		httpMsg = httpMsg[n:]
		if typ == protowire.BytesType && (num == fieldHTTPStatusCode || num == fieldHTTPBody) {
			v, m := protowire.ConsumeBytes(httpMsg)
			if m < 0 {
				return false, nil, false
			}
			if num == fieldHTTPBody {
				hasBody = true
			} else {
				status = v
			}
			httpMsg = httpMsg[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, httpMsg)
		if m < 0 {
			return false, nil, false
		}
		httpMsg = httpMsg[m:]
	}
	return hasBody, status, true
}

// bindingNameData reads a ParameterBinding's name and data bytes.
func bindingNameData(b []byte) (name string, data []byte, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", nil, false
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == fieldBindingName || num == fieldBindingData) {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return "", nil, false
			}
			if num == fieldBindingName {
				name = string(v)
			} else {
				data = v
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return "", nil, false
		}
		b = b[m:]
	}
	return name, data, true
}

// messageHTTPStatus is responseHTTPStatus for a decoded InvocationResponse.
func messageHTTPStatus(r *rpc.InvocationResponse, out string) int {
	if out == "" {
		return 200
	}
	var v *rpc.TypedData
	if out == "$return" {
		v = r.GetReturnValue()
	} else {
		for _, p := range r.GetOutputData() {
			if p.GetName() == out {
				v = p.GetData()
			}
		}
	}
	h := v.GetHttp()
	if h == nil {
		return 200
	}
	return hostHTTPStatus(true, h.Body != nil, h.StatusCode)
}
