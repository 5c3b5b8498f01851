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
	// RouteParams fill an HTTP function's route template (--route-param); RoutePrefix is the
	// host's route prefix (empty: DefaultRoutePrefix; "/" for none).
	RouteParams map[string]string
	RoutePrefix string
}

func (p Payload) header(name string) string {
	for _, h := range p.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// hostHeader is the Host a caller's request to the host carries (the local Functions host's address).
const hostHeader = "localhost:7071"

// incoming is the HTTP request a caller sends the host for one HTTP function: what the host turns
// into an RpcHttp (non-proxy mode) or forwards to the worker's HttpUri (proxy mode).
type incoming struct {
	method   string
	path     string // escaped: /api/items/42
	rawQuery string
	query    url.Values
	headers  [][2]string // as sent, original case, Host and Content-Length included
	body     []byte
	route    route
}

// newIncoming builds the caller's request for f from the payload.
func newIncoming(f *host.Function, trig *host.Binding, p Payload) (*incoming, error) {
	method := strings.ToUpper(p.Method)
	if method == "" {
		method = "GET"
		if len(p.Body) > 0 {
			method = "POST"
		}
	}
	template, _ := trig.Raw["route"].(string)
	prefix := p.RoutePrefix
	if prefix == "" {
		prefix = DefaultRoutePrefix
	}
	r, err := buildRoute(f.Name, template, prefix, p.RouteParams)
	if err != nil {
		return nil, err
	}
	in := &incoming{method: method, path: r.path, route: r, query: url.Values{}}
	for _, kv := range p.Query {
		in.query.Add(kv[0], kv[1])
	}
	in.rawQuery = in.query.Encode()
	in.body = p.Body
	if method == "GET" || method == "HEAD" {
		in.body = nil // the host sends no body for these; Node's undici rejects one
	}
	in.headers = append([][2]string(nil), p.Headers...)
	if len(in.body) > 0 && p.header("Content-Length") == "" {
		in.headers = append(in.headers, [2]string{"Content-Length", strconv.Itoa(len(in.body))})
	}
	if p.header("Host") == "" {
		in.headers = append(in.headers, [2]string{"Host", hostHeader})
	}
	return in, nil
}

func (in *incoming) header(name string) string {
	for _, h := range in.headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// url is the absolute URL the host puts in RpcHttp.url: scheme, Host header, path and raw query.
func (in *incoming) url() string {
	u := "http://" + in.header("Host") + in.path
	if in.rawQuery != "" {
		u += "?" + in.rawQuery
	}
	return u
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
		in, err := newIncoming(f, trig, p)
		if err != nil {
			return nil, err
		}
		httpData, meta := buildHTTP(in, trig, caps)
		if caps["HttpUri"] != "" {
			httpData = proxyRpcHTTP(in, caps)
		}
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

// proxyRpcHTTP is the trigger's RpcHttp in HTTP proxying mode (protocol.md §8.2): empty, or only
// the route values when the worker advertises RequiresRouteParameters.
func proxyRpcHTTP(in *incoming, caps map[string]string) *rpc.RpcHttp {
	h := &rpc.RpcHttp{}
	if !host.HasCapability(caps, "RequiresRouteParameters") || len(in.route.values) == 0 {
		return h
	}
	if host.HasCapability(caps, "UseNullableValueDictionaryForHttp") {
		h.NullableParams = map[string]*rpc.NullableString{}
		for _, kv := range in.route.values {
			h.NullableParams[kv[0]] = &rpc.NullableString{String_: &rpc.NullableString_Value{Value: kv[1]}}
		}
	} else {
		h.Params = map[string]string{}
		for _, kv := range in.route.values {
			h.Params[kv[0]] = kv[1]
		}
	}
	return h
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

// Claim types of ASP.NET Core's default (anonymous) ClaimsIdentity.
const (
	nameClaimType = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	roleClaimType = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
)

// anonymousIdentity is the one identity the host sends for an anonymous request (protocol.md §8.3):
// no authentication type, the default name and role claim types, no claims.
func anonymousIdentity() *rpc.RpcClaimsIdentity {
	return &rpc.RpcClaimsIdentity{
		NameClaimType: &rpc.NullableString{String_: &rpc.NullableString_Value{Value: nameClaimType}},
		RoleClaimType: &rpc.NullableString{String_: &rpc.NullableString_Value{Value: roleClaimType}},
	}
}

// buildHTTP builds the RpcHttp and trigger_metadata of an HTTP-triggered invocation (protocol.md
// §3.1, §8.3).
func buildHTTP(in *incoming, trig *host.Binding, caps map[string]string) (*rpc.RpcHttp, map[string]*rpc.TypedData) {
	has := func(k string) bool { return host.HasCapability(caps, k) }
	h := &rpc.RpcHttp{Method: in.method, Url: in.url(), Identities: []*rpc.RpcClaimsIdentity{anonymousIdentity()}}
	if has("UseNullableValueDictionaryForHttp") {
		setNullableHTTPValues(h, in)
	} else {
		setHTTPValues(h, in, has("IgnoreEmptyValuedRpcHttpHeaders"))
	}
	if len(in.body) > 0 {
		setHTTPBody(h, in, has("RpcHttpBodyOnly"), has("RawHttpBodyBytes"))
	}
	meta := httpTriggerMetadata(in)
	if !has("RpcHttpTriggerMetadataRemoved") {
		meta[trig.Name] = &rpc.TypedData{Data: &rpc.TypedData_Http{Http: h}}
		meta["$request"] = &rpc.TypedData{Data: &rpc.TypedData_Http{Http: h}}
	}
	return h, meta
}

// joinedHeaders is in's headers by lower-cased name, the values of a repeated one comma-joined,
// and the names in the order they first came.
func joinedHeaders(in *incoming) (order []string, joined map[string]string) {
	joined = map[string]string{}
	for _, kv := range in.headers {
		k := strings.ToLower(kv[0])
		if v, ok := joined[k]; ok {
			joined[k] = v + "," + kv[1]
		} else {
			joined[k] = kv[1]
			order = append(order, k)
		}
	}
	return order, joined
}

// setHTTPValues sets h's headers, query and route parameters as plain strings; empty query values
// are left out, and empty headers too with ignoreEmptyHeaders.
func setHTTPValues(h *rpc.RpcHttp, in *incoming, ignoreEmptyHeaders bool) {
	h.Headers = map[string]string{}
	h.Query = map[string]string{}
	h.Params = map[string]string{}
	order, joined := joinedHeaders(in)
	for _, k := range order {
		if v := joined[k]; v != "" || !ignoreEmptyHeaders {
			h.Headers[k] = v
		}
	}
	for k, vs := range in.query {
		if v := strings.Join(vs, ","); v != "" { // StringValues.ToString(): duplicates comma-joined
			h.Query[k] = v
		}
	}
	for _, kv := range in.route.values {
		h.Params[kv[0]] = kv[1]
	}
}

// setNullableHTTPValues sets h's headers, query and route parameters as nullable strings
// (UseNullableValueDictionaryForHttp).
func setNullableHTTPValues(h *rpc.RpcHttp, in *incoming) {
	nullable := func(v string) *rpc.NullableString {
		return &rpc.NullableString{String_: &rpc.NullableString_Value{Value: v}}
	}
	h.NullableHeaders = map[string]*rpc.NullableString{}
	h.NullableQuery = map[string]*rpc.NullableString{}
	h.NullableParams = map[string]*rpc.NullableString{}
	order, joined := joinedHeaders(in)
	for _, k := range order {
		h.NullableHeaders[k] = nullable(joined[k])
	}
	for k, vs := range in.query {
		h.NullableQuery[k] = nullable(strings.Join(vs, ",")) // StringValues.ToString(): duplicates comma-joined
	}
	for _, kv := range in.route.values {
		h.NullableParams[kv[0]] = nullable(kv[1])
	}
}

// setHTTPBody sets h's body (and raw body) by the host's rules for its kind; with no Content-Type
// header the media type is empty. bodyOnly and rawBytes are the worker's RpcHttpBodyOnly and
// RawHttpBodyBytes capabilities.
func setHTTPBody(h *rpc.RpcHttp, in *incoming, bodyOnly, rawBytes bool) {
	body := in.body
	ctype, _, _ := mime.ParseMediaType(in.header("Content-Type"))
	binaryType := ctype == "application/octet-stream" || strings.Contains(ctype, "multipart/")
	bytesData := func() *rpc.TypedData { return &rpc.TypedData{Data: &rpc.TypedData_Bytes{Bytes: body}} }
	stringData := func() *rpc.TypedData { return &rpc.TypedData{Data: &rpc.TypedData_String_{String_: string(body)}} }
	if bodyOnly {
		if binaryType || rawBytes {
			h.Body = bytesData()
		} else {
			h.Body = stringData()
		}
		return
	}
	switch {
	case ctype == "application/json":
		var v any
		if err := json.Unmarshal(body, &v); err == nil {
			re, _ := json.Marshal(v)
			h.Body = &rpc.TypedData{Data: &rpc.TypedData_Json{Json: string(re)}}
		} else {
			h.Body = stringData()
		}
	case binaryType:
		h.Body = bytesData()
	default:
		h.Body = stringData()
	}
	if rawBytes {
		h.RawBody = bytesData()
	} else {
		h.RawBody = stringData()
	}
}

// triggerMetadata is an HTTP invocation's binding data, keys case-insensitive, added in the
// host's order: a later source overwrites, unless it adds only where no such key exists yet.
type triggerMetadata struct {
	meta  map[string]*rpc.TypedData
	keyOf map[string]string // lower-cased key → the key stored
}

func (t *triggerMetadata) set(k string, v *rpc.TypedData, overwrite bool) {
	lk := strings.ToLower(k)
	if old, ok := t.keyOf[lk]; ok {
		if !overwrite {
			return
		}
		delete(t.meta, old)
	}
	t.keyOf[lk] = k
	t.meta[k] = v
}

// httpTriggerMetadata is the trigger_metadata of an HTTP invocation, but for the request itself:
// body JSON properties, query values (last wins, code skipped), route values, then Query and
// Headers only where no such key exists yet.
func httpTriggerMetadata(in *incoming) map[string]*rpc.TypedData {
	t := &triggerMetadata{meta: map[string]*rpc.TypedData{}, keyOf: map[string]string{}}
	if len(in.body) > 0 && in.body[0] == '{' {
		t.setBodyProperties(in.body)
	}
	qkeys := make([]string, 0, len(in.query))
	for k := range in.query {
		qkeys = append(qkeys, k)
	}
	sort.Strings(qkeys)
	qj := map[string]string{}
	for _, k := range qkeys {
		vs := in.query[k]
		qj[k] = vs[len(vs)-1]
		if k != "code" {
			t.set(k, &rpc.TypedData{Data: &rpc.TypedData_String_{String_: vs[len(vs)-1]}}, true)
		}
	}
	for _, kv := range in.route.values {
		t.set(kv[0], &rpc.TypedData{Data: &rpc.TypedData_String_{String_: kv[1]}}, true)
	}
	t.set("Query", &rpc.TypedData{Data: &rpc.TypedData_Json{Json: mustJSON(qj)}}, false)
	hj := map[string]string{}
	for _, kv := range in.headers {
		if v, ok := hj[kv[0]]; ok {
			hj[kv[0]] = v + "," + kv[1]
		} else {
			hj[kv[0]] = kv[1]
		}
	}
	t.set("Headers", &rpc.TypedData{Data: &rpc.TypedData_Json{Json: mustJSON(hj)}}, false)
	return t.meta
}

// setBodyProperties adds the properties of a JSON object body, in key order: objects as JSON,
// strings as strings, other values as their JSON text; arrays are not bound.
func (t *triggerMetadata) setBodyProperties(body []byte) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw := obj[k]
		switch {
		case len(raw) > 0 && raw[0] == '{':
			t.set(k, &rpc.TypedData{Data: &rpc.TypedData_Json{Json: string(raw)}}, true)
		case len(raw) > 0 && raw[0] == '[':
			// arrays are not bound as trigger metadata
		case len(raw) > 0 && raw[0] == '"':
			var s string
			_ = json.Unmarshal(raw, &s)
			t.set(k, &rpc.TypedData{Data: &rpc.TypedData_String_{String_: s}}, true)
		default:
			t.set(k, &rpc.TypedData{Data: &rpc.TypedData_String_{String_: string(raw)}}, true)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
