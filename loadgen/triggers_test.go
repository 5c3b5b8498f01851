package loadgen

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
)

var updateTriggers = flag.Bool("update", false, "rewrite the trigger golden files in testdata/triggers")

// fnOf builds a function from function.json-style binding objects (the first is the trigger).
func fnOf(t *testing.T, name string, retry *rpc.RpcRetryOptions, bindings ...string) *host.Function {
	t.Helper()
	f := &host.Function{Name: name, ID: "00000000-0000-0000-0000-0000000000f1", Retry: retry}
	for _, b := range bindings {
		var raw map[string]any
		if err := json.Unmarshal([]byte(b), &raw); err != nil {
			t.Fatal(err)
		}
		dir := rpc.BindingInfo_in
		if raw["direction"] == "out" {
			dir = rpc.BindingInfo_out
		}
		dt, _ := raw["dataType"].(string)
		f.Bindings = append(f.Bindings, host.Binding{Name: raw["name"].(string), Type: raw["type"].(string), Direction: dir, DataType: dt, Raw: raw})
	}
	return f
}

// TestTriggerShapes compares each trigger's InvocationRequest with the host's shape
// (protocol.md §3.4, §3.5, §8.6), as canonical JSON in testdata/triggers/NAME.json.
func TestTriggerShapes(t *testing.T) {
	now := time.Date(2024, 10, 24, 10, 0, 0, 0, time.UTC)
	retry := &rpc.RpcRetryOptions{MaxRetryCount: 4, RetryStrategy: rpc.RpcRetryOptions_fixed_delay}
	const queueOut = `{"name": "out", "type": "queue", "direction": "out", "queueName": "done"}`
	for _, tc := range []struct {
		name string
		fn   *host.Function
		body string
	}{
		{"timer-cron", fnOf(t, "tick", nil, `{"name": "myTimer", "type": "timerTrigger", "direction": "in", "schedule": "0 */5 * * * *"}`), "ignored"},
		{"timer-every-10s", fnOf(t, "tick", nil, `{"name": "myTimer", "type": "timerTrigger", "direction": "in", "schedule": "00:00:10"}`), ""},
		{"timer-unmonitored", fnOf(t, "tick", nil, `{"name": "myTimer", "type": "timerTrigger", "direction": "in", "schedule": "0 0 * * * *", "useMonitor": false}`), ""},
		{"queue-string", fnOf(t, "q", nil, `{"name": "msg", "type": "queueTrigger", "direction": "in", "dataType": "string", "queueName": "in"}`), "hello"},
		{"queue-json", fnOf(t, "q", nil, `{"name": "msg", "type": "queueTrigger", "direction": "in", "queueName": "in"}`), `{"order": 7}`},
		{"queue-binary-not-text", fnOf(t, "q", nil, `{"name": "msg", "type": "queueTrigger", "direction": "in", "dataType": "binary", "queueName": "in"}`), "\xff\xfe\x00"},
		{"queue-retry", fnOf(t, "q", retry, `{"name": "msg", "type": "queueTrigger", "direction": "in", "queueName": "in"}`), "x"},
		{"queue-deferred", fnOf(t, "q", nil, `{"name": "msg", "type": "queueTrigger", "direction": "in", "queueName": "in", "properties": {"supportsDeferredBinding": "True"}}`, queueOut), `{"order": 7}`},
		{"queue-deferred-skipped", fnOf(t, "q", nil, `{"name": "msg", "type": "queueTrigger", "direction": "in", "queueName": "in", "properties": {"SupportsDeferredBinding": true}}`,
			`{"name": "out", "type": "queue", "direction": "out", "queueName": "{queueTrigger}-done"}`), "hello"},
		{"http-retry", fnOf(t, "echo", retry, `{"name": "req", "type": "httpTrigger", "direction": "in"}`, `{"name": "$return", "type": "http", "direction": "out"}`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := BuildRequest(tc.fn, map[string]string{"RpcHttpBodyOnly": "true"}, Payload{Body: []byte(tc.body), Now: now})
			if err != nil {
				t.Fatal(err)
			}
			b, err := protojson.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(v, "", "  ")
			got = append(got, '\n')
			path := filepath.Join("testdata", "triggers", tc.name+".json")
			if *updateTriggers {
				_ = os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("request differs from %s (-update to accept):\n got %s\nwant %s", path, got, want)
			}
		})
	}
}

// TestTriggerFacts checks the facts of §3.4, §3.5 and §8.6 directly (the goldens hold the rest).
func TestTriggerFacts(t *testing.T) {
	now := time.Date(2024, 10, 24, 10, 0, 0, 0, time.UTC)
	q := fnOf(t, "q", nil, `{"name": "msg", "type": "queueTrigger", "direction": "in", "queueName": "in"}`)
	req, err := BuildRequest(q, nil, Payload{Body: []byte("hi"), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for k, v := range req.TriggerMetadata {
		switch v.Data.(type) {
		case *rpc.TypedData_String_:
			types[k] = "string"
		case *rpc.TypedData_Json:
			types[k] = "json"
		default:
			types[k] = "other"
		}
	}
	want := map[string]string{"QueueTrigger": "string", "DequeueCount": "json", "ExpirationTime": "json", "Id": "string",
		"InsertionTime": "json", "NextVisibleTime": "json", "PopReceipt": "string"}
	if len(types) != len(want) {
		t.Errorf("queue metadata %v, want %v", types, want)
	}
	for k, ty := range want {
		if types[k] != ty {
			t.Errorf("queue metadata %s is %q, want %s", k, types[k], ty)
		}
	}
	if req.TriggerMetadata["DequeueCount"].GetJson() != "1" || req.TriggerMetadata["ExpirationTime"].GetJson() != `"9999-12-31T23:59:59.9999999+00:00"` {
		t.Errorf("queue DequeueCount/ExpirationTime: %v", req.TriggerMetadata)
	}
	for _, tc := range []struct {
		schedule string
		dst, mon bool
	}{{"0 */5 * * * *", true, true}, {"00:00:10", false, false}, {"01:00:00", false, true}, {"*/5 * * * * *", true, false}} {
		f := fnOf(t, "tick", nil, `{"name": "myTimer", "type": "timerTrigger", "direction": "in", "schedule": "`+tc.schedule+`"}`)
		req, err := BuildRequest(f, nil, Payload{Body: []byte("body"), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		var ti struct {
			Schedule       struct{ AdjustForDST bool }
			ScheduleStatus *struct{ Last, Next, LastUpdated string }
			IsPastDue      *bool
		}
		if err := json.Unmarshal([]byte(req.InputData[0].GetData().GetJson()), &ti); err != nil {
			t.Fatalf("%s: TimerInfo is not json: %v", tc.schedule, err)
		}
		if ti.Schedule.AdjustForDST != tc.dst || (ti.ScheduleStatus != nil) != tc.mon || ti.IsPastDue == nil || *ti.IsPastDue {
			t.Errorf("%s: TimerInfo %s", tc.schedule, req.InputData[0].GetData().GetJson())
		}
		if req.TriggerMetadata["TimerTrigger"].GetString_() == "" || len(req.TriggerMetadata) != 1 {
			t.Errorf("%s: timer metadata %v", tc.schedule, req.TriggerMetadata)
		}
	}
}
