package loadgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
)

func TestBuildRoute(t *testing.T) {
	for _, tc := range []struct {
		fn, tmpl, prefix string
		given            map[string]string
		path             string
		values           string // k=v,k=v
		err              string
	}{
		{fn: "hello", prefix: "api", path: "/api/hello"},
		{fn: "f", tmpl: "items/{id}", prefix: "api", given: map[string]string{"id": "42"}, path: "/api/items/42", values: "id=42"},
		{fn: "f", tmpl: "items/{ID:int}", prefix: "api", given: map[string]string{"id": "7"}, path: "/api/items/7", values: "ID=7"},
		{fn: "f", tmpl: "items/{id}", prefix: "api", err: "needs a value for {id}"},
		{fn: "f", tmpl: "items/{id?}", prefix: "api", path: "/api/items"},
		{fn: "f", tmpl: "items/{id=5}", prefix: "api", path: "/api/items/5", values: "id=5"},
		{fn: "f", tmpl: "files/{*rest}", prefix: "api", given: map[string]string{"rest": "a/b c"}, path: "/api/files/a/b%20c", values: "rest=a/b c"},
		{fn: "f", tmpl: "{a}-{b}/x", prefix: "", given: map[string]string{"a": "1", "b": "2"}, path: "/1-2/x", values: "a=1,b=2"},
		{fn: "f", tmpl: "r/{n:regex(^[a-z]{{2}}$)}", prefix: "api", given: map[string]string{"n": "ab"}, path: "/api/r/ab", values: "n=ab"},
		{fn: "f", tmpl: "items/{id", prefix: "api", err: "unclosed"},
	} {
		r, err := buildRoute(tc.fn, tc.tmpl, tc.prefix, tc.given)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.tmpl, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.tmpl, err)
			continue
		}
		var vs []string
		for _, kv := range r.values {
			vs = append(vs, kv[0]+"="+kv[1])
		}
		if r.path != tc.path || strings.Join(vs, ",") != tc.values {
			t.Errorf("%s: path %q values %v, want %q %q", tc.tmpl, r.path, vs, tc.path, tc.values)
		}
	}
}

func TestParseStatusSet(t *testing.T) {
	for _, tc := range []struct {
		in      string
		yes, no []int
		bad     bool
	}{
		{in: "200-399", yes: []int{200, 302, 399}, no: []int{199, 400, 500}},
		{in: "200-299, 404", yes: []int{204, 404}, no: []int{302, 500}},
		{in: "500", yes: []int{500}, no: []int{200}},
		{in: "", bad: true}, {in: "399-200", bad: true}, {in: "abc", bad: true}, {in: "20-99", bad: true},
	} {
		s, err := ParseStatusSet(tc.in)
		if tc.bad != (err != nil) {
			t.Errorf("%q: error %v", tc.in, err)
			continue
		}
		for _, c := range tc.yes {
			if !s.Has(c) {
				t.Errorf("%q should hold %d", tc.in, c)
			}
		}
		for _, c := range tc.no {
			if s.Has(c) {
				t.Errorf("%q should not hold %d", tc.in, c)
			}
		}
	}
}

// TestHTTPStatusFromResponse holds the hot path's hand parse of the status to the host's rules and
// to the decoded message's reading.
func TestHTTPStatusFromResponse(t *testing.T) {
	body := &rpc.TypedData{Data: &rpc.TypedData_Bytes{Bytes: []byte("x")}}
	httpVal := func(code string, withBody bool) *rpc.TypedData {
		h := &rpc.RpcHttp{StatusCode: code}
		if withBody {
			h.Body = body
		}
		return &rpc.TypedData{Data: &rpc.TypedData_Http{Http: h}}
	}
	for _, tc := range []struct {
		name string
		resp *rpc.InvocationResponse
		out  string
		want int
	}{
		{"return 404", &rpc.InvocationResponse{ReturnValue: httpVal("404", true)}, "$return", 404},
		{"no body: 200 whatever the status", &rpc.InvocationResponse{ReturnValue: httpVal("500", false)}, "$return", 200},
		{"empty status", &rpc.InvocationResponse{ReturnValue: httpVal("", true)}, "$return", 200},
		{"invalid status", &rpc.InvocationResponse{ReturnValue: httpVal("teapot", true)}, "$return", 200},
		{"no value", &rpc.InvocationResponse{}, "$return", 200},
		{"a string value", &rpc.InvocationResponse{ReturnValue: &rpc.TypedData{Data: &rpc.TypedData_String_{String_: "hi"}}}, "$return", 200},
		{"output binding res", &rpc.InvocationResponse{OutputData: []*rpc.ParameterBinding{
			{Name: "other", RpcData: &rpc.ParameterBinding_Data{Data: httpVal("201", true)}},
			{Name: "res", RpcData: &rpc.ParameterBinding_Data{Data: httpVal("503", true)}}}}, "res", 503},
		{"return value ignored for an output binding", &rpc.InvocationResponse{ReturnValue: httpVal("404", true)}, "res", 200},
		{"no HTTP output binding", &rpc.InvocationResponse{ReturnValue: httpVal("404", true)}, "", 200},
	} {
		tc.resp.InvocationId = "0b0ae5d8-4a40-4d5c-9a6f-2b2f3f8f0b11"
		tc.resp.Result = &rpc.StatusResult{Status: rpc.StatusResult_Success}
		b, err := proto.Marshal(&rpc.StreamingMessage{Content: &rpc.StreamingMessage_InvocationResponse{InvocationResponse: tc.resp}})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := responseHTTPStatus(b, tc.out)
		if !ok || got != tc.want {
			t.Errorf("%s: hand parse %d (ok %v), want %d", tc.name, got, ok, tc.want)
		}
		if m := messageHTTPStatus(tc.resp, tc.out); m != tc.want {
			t.Errorf("%s: decoded %d, want %d", tc.name, m, tc.want)
		}
	}
}

func TestRequestShapes(t *testing.T) {
	f := &host.Function{Name: "items", ID: "fid", Bindings: []host.Binding{{Name: "req", Type: "httpTrigger",
		Raw: map[string]any{"route": "items/{id}"}}}}
	p := Payload{Body: []byte(`{"id":"body","k":"v"}`), Query: [][2]string{{"a", "1"}, {"a", "2"}, {"id", "q"}}, RouteParams: map[string]string{"id": "42"}}
	dotnet := map[string]string{"RpcHttpBodyOnly": "True", "RawHttpBodyBytes": "True", "RpcHttpTriggerMetadataRemoved": "True", "UseNullableValueDictionaryForHttp": "True"}
	req, err := BuildRequest(f, dotnet, p)
	if err != nil {
		t.Fatal(err)
	}
	h := req.InputData[0].GetData().GetHttp()
	if h.Url != "http://localhost:7071/api/items/42?a=1&a=2&id=q" || h.NullableParams["id"].GetValue() != "42" || h.NullableQuery["a"].GetValue() != "1,2" {
		t.Errorf("RpcHttp: url %q params %v query %v", h.Url, h.NullableParams, h.NullableQuery)
	}
	if _, ok := h.NullableHeaders["content-type"]; ok {
		t.Error("a Content-Type was invented")
	}
	if h.GetBody().GetBytes() == nil {
		t.Error("with RawHttpBodyBytes and no Content-Type the body is bytes")
	}
	if len(h.Identities) != 1 || h.Identities[0].AuthenticationType != nil || h.Identities[0].GetNameClaimType().GetValue() != nameClaimType ||
		h.Identities[0].GetRoleClaimType().GetValue() != roleClaimType || len(h.Identities[0].Claims) != 0 {
		t.Errorf("identities %v: want one anonymous identity", h.Identities)
	}
	// Route values are added after body properties and query values: they win.
	if got := req.TriggerMetadata["id"].GetString_(); got != "42" {
		t.Errorf("trigger metadata id %q, want the route value 42", got)
	}
	if req.TriggerMetadata["k"].GetString_() != "v" || req.TriggerMetadata["a"].GetString_() != "2" {
		t.Errorf("trigger metadata %v", req.TriggerMetadata)
	}
	// Without RawHttpBodyBytes and no Content-Type: a string.
	req, _ = BuildRequest(f, map[string]string{"RpcHttpBodyOnly": "true"}, p)
	if req.InputData[0].GetData().GetHttp().GetBody().GetString_() == "" {
		t.Error("without RawHttpBodyBytes and no Content-Type the body is a string")
	}
	// Proxy mode: an empty RpcHttp, or only the route values with RequiresRouteParameters.
	proxy := map[string]string{"HttpUri": "http://localhost:1/"}
	req, _ = BuildRequest(f, proxy, p)
	if !proto.Equal(req.InputData[0].GetData().GetHttp(), &rpc.RpcHttp{}) || req.TriggerMetadata["id"].GetString_() != "42" {
		t.Errorf("proxy mode RpcHttp %v, metadata %v", req.InputData[0].GetData().GetHttp(), req.TriggerMetadata)
	}
	proxy["RequiresRouteParameters"] = "true"
	req, _ = BuildRequest(f, proxy, p)
	if !proto.Equal(req.InputData[0].GetData().GetHttp(), &rpc.RpcHttp{Params: map[string]string{"id": "42"}}) {
		t.Errorf("proxy mode with RequiresRouteParameters: %v", req.InputData[0].GetData().GetHttp())
	}
}

func TestHostJSONRoutePrefix(t *testing.T) {
	for _, tc := range []struct {
		json   string
		prefix string
		ok     bool
	}{
		{`{"version":"2.0"}`, "", false},
		{`{"extensions":{"http":{"routePrefix":""}}}`, "", true},
		{`{"extensions":{"http":{"routePrefix":"v1"}}}`, "v1", true},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(tc.json), 0o600); err != nil {
			t.Fatal(err)
		}
		p, ok := hostJSONRoutePrefix(dir)
		if p != tc.prefix || ok != tc.ok {
			t.Errorf("%s: %q %v", tc.json, p, ok)
		}
	}
	if _, ok := hostJSONRoutePrefix(t.TempDir()); ok {
		t.Error("no host.json: the default prefix")
	}
	if r, _ := buildRoute("hello", "", "/", nil); r.path != "/hello" {
		t.Errorf("empty prefix: %q", r.path)
	}
}

func TestParseStatusCodeAsTryParse(t *testing.T) {
	for in, want := range map[string]int{"200": 200, " 404 ": 404, "+201": 201, "-5": -5, "2147483647": 2147483647} {
		if got, ok := parseStatusCode(in); !ok || got != want {
			t.Errorf("%q: %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"", " ", "20 0", "2147483648", "0x10", "200.0", "+"} {
		if _, ok := parseStatusCode(in); ok {
			t.Errorf("%q parsed", in)
		}
	}
}
