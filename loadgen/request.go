package loadgen

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
)

// Payload is what every invocation carries: for HTTP triggers the request, for other triggers the
// body as the trigger binding's data.
type Payload struct {
	Method  string      // HTTP method; default POST with a body, GET without
	Body    []byte      // request body / trigger data
	Headers [][2]string // in order, original case
	Query   [][2]string // in order
	// Now is when the run's requests are built (trigger times: timer schedule, queue insertion);
	// zero means the time BuildRequest runs.
	Now time.Time
}

func (p Payload) header(name string) string {
	for _, h := range p.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// BuildRequest builds the InvocationRequest fbench sends to f: everything but invocation_id and
// the trace context, shaped per the worker's capabilities (WorkerInitResponse) as the host does.
// The engine builds it once per function and encodes it as a template.
func BuildRequest(f *host.Function, caps map[string]string, p Payload) (*rpc.InvocationRequest, error) {
	trig := f.Trigger()
	if trig == nil {
		return nil, fmt.Errorf("function %s has no trigger binding", f.Name)
	}
	req := &rpc.InvocationRequest{FunctionId: f.ID, TriggerMetadata: map[string]*rpc.TypedData{}, RetryContext: retryContext(f)}
	if strings.EqualFold(trig.Type, "httpTrigger") {
		httpData, meta := buildHTTP(f, trig, caps, p)
		req.InputData = []*rpc.ParameterBinding{{Name: trig.Name, RpcData: &rpc.ParameterBinding_Data{Data: &rpc.TypedData{Data: &rpc.TypedData_Http{Http: httpData}}}}}
		req.TriggerMetadata = meta
		return req, nil
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	nonHTTPTrigger(req, f, trig, p, now)
	return req, nil
}

// triggerData shapes a non-HTTP trigger's payload per the binding's dataType.
func triggerData(b *host.Binding, body []byte) *rpc.TypedData {
	switch b.DataType {
	case "binary", "stream":
		return &rpc.TypedData{Data: &rpc.TypedData_Bytes{Bytes: body}}
	case "string":
		return &rpc.TypedData{Data: &rpc.TypedData_String_{String_: string(body)}}
	}
	if json.Valid(body) && len(body) > 0 && (body[0] == '{' || body[0] == '[') {
		return &rpc.TypedData{Data: &rpc.TypedData_Json{Json: string(body)}}
	}
	return &rpc.TypedData{Data: &rpc.TypedData_String_{String_: string(body)}}
}

// buildHTTP builds the RpcHttp and trigger_metadata of an HTTP-triggered invocation (protocol.md §3.1).
func buildHTTP(f *host.Function, trig *host.Binding, caps map[string]string, p Payload) (*rpc.RpcHttp, map[string]*rpc.TypedData) {
	has := func(k string) bool { return host.HasCapability(caps, k) }
	method := strings.ToUpper(p.Method)
	if method == "" {
		method = "GET"
		if len(p.Body) > 0 {
			method = "POST"
		}
	}
	route := f.Name
	if r, ok := trig.Raw["route"].(string); ok && r != "" && !strings.Contains(r, "{") {
		route = r
	}
	u := url.URL{Scheme: "http", Host: "localhost:7071", Path: "/api/" + route}
	q := url.Values{}
	for _, kv := range p.Query {
		q.Add(kv[0], kv[1])
	}
	u.RawQuery = q.Encode()

	body := p.Body
	if method == "GET" || method == "HEAD" {
		body = nil // the host sends no body for these; Node's undici rejects one
	}
	headers := append([][2]string(nil), p.Headers...)
	if len(body) > 0 {
		if p.header("Content-Type") == "" {
			headers = append(headers, [2]string{"Content-Type", "application/octet-stream"})
		}
		if p.header("Content-Length") == "" {
			headers = append(headers, [2]string{"Content-Length", strconv.Itoa(len(body))})
		}
	}
	headers = append(headers, [2]string{"Host", "localhost:7071"})

	h := &rpc.RpcHttp{Method: method, Url: u.String()}
	nullable := has("UseNullableValueDictionaryForHttp")
	if nullable {
		h.NullableHeaders = map[string]*rpc.NullableString{}
		h.NullableQuery = map[string]*rpc.NullableString{}
		h.NullableParams = map[string]*rpc.NullableString{}
	} else {
		h.Headers = map[string]string{}
		h.Query = map[string]string{}
		h.Params = map[string]string{}
	}
	joined := map[string]string{} // lower-cased name → comma-joined values
	var order []string
	for _, kv := range headers {
		k := strings.ToLower(kv[0])
		if v, ok := joined[k]; ok {
			joined[k] = v + "," + kv[1]
		} else {
			joined[k] = kv[1]
			order = append(order, k)
		}
	}
	for _, k := range order {
		v := joined[k]
		if nullable {
			h.NullableHeaders[k] = &rpc.NullableString{String_: &rpc.NullableString_Value{Value: v}}
		} else if v != "" || !has("IgnoreEmptyValuedRpcHttpHeaders") {
			h.Headers[k] = v
		}
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		if nullable {
			h.NullableQuery[k] = &rpc.NullableString{String_: &rpc.NullableString_Value{Value: v}}
		} else if v != "" {
			h.Query[k] = v
		}
	}

	ctype, _, _ := mime.ParseMediaType(p.header("Content-Type"))
	binaryType := ctype == "application/octet-stream" || strings.HasPrefix(ctype, "multipart/")
	if len(body) > 0 {
		if has("RpcHttpBodyOnly") {
			if binaryType || has("RawHttpBodyBytes") {
				h.Body = &rpc.TypedData{Data: &rpc.TypedData_Bytes{Bytes: body}}
			} else {
				h.Body = &rpc.TypedData{Data: &rpc.TypedData_String_{String_: string(body)}}
			}
		} else {
			switch {
			case ctype == "application/json":
				var v any
				if err := json.Unmarshal(body, &v); err == nil {
					re, _ := json.Marshal(v)
					h.Body = &rpc.TypedData{Data: &rpc.TypedData_Json{Json: string(re)}}
				} else {
					h.Body = &rpc.TypedData{Data: &rpc.TypedData_String_{String_: string(body)}}
				}
			case binaryType:
				h.Body = &rpc.TypedData{Data: &rpc.TypedData_Bytes{Bytes: body}}
			default:
				h.Body = &rpc.TypedData{Data: &rpc.TypedData_String_{String_: string(body)}}
			}
			if has("RawHttpBodyBytes") {
				h.RawBody = &rpc.TypedData{Data: &rpc.TypedData_Bytes{Bytes: body}}
			} else {
				h.RawBody = &rpc.TypedData{Data: &rpc.TypedData_String_{String_: string(body)}}
			}
		}
	}

	meta := map[string]*rpc.TypedData{}
	if !has("RpcHttpTriggerMetadataRemoved") {
		meta[trig.Name] = &rpc.TypedData{Data: &rpc.TypedData_Http{Http: h}}
		meta["$request"] = &rpc.TypedData{Data: &rpc.TypedData_Http{Http: h}}
	}
	qj := map[string]string{}
	for k, vs := range q {
		qj[k] = vs[len(vs)-1]
		if k != "code" {
			meta[k] = &rpc.TypedData{Data: &rpc.TypedData_String_{String_: vs[len(vs)-1]}}
		}
	}
	meta["Query"] = &rpc.TypedData{Data: &rpc.TypedData_Json{Json: mustJSON(qj)}}
	hj := map[string]string{}
	for _, kv := range headers {
		if v, ok := hj[kv[0]]; ok {
			hj[kv[0]] = v + "," + kv[1]
		} else {
			hj[kv[0]] = kv[1]
		}
	}
	meta["Headers"] = &rpc.TypedData{Data: &rpc.TypedData_Json{Json: mustJSON(hj)}}
	if len(body) > 0 && (body[0] == '{') {
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) == nil {
			keys := make([]string, 0, len(obj))
			for k := range obj {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				raw := obj[k]
				switch {
				case len(raw) > 0 && raw[0] == '{':
					meta[k] = &rpc.TypedData{Data: &rpc.TypedData_Json{Json: string(raw)}}
				case len(raw) > 0 && raw[0] == '[':
					// arrays are not bound as trigger metadata
				case len(raw) > 0 && raw[0] == '"':
					var s string
					_ = json.Unmarshal(raw, &s)
					meta[k] = &rpc.TypedData{Data: &rpc.TypedData_String_{String_: s}}
				default:
					meta[k] = &rpc.TypedData{Data: &rpc.TypedData_String_{String_: string(raw)}}
				}
			}
		}
	}
	return h, meta
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
