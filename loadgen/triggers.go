package loadgen

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
)

// Non-HTTP triggers shaped as the host shapes them (protocol.md §3.4, §3.5, §8.6). The request is
// built once per function, so the values the host would take from the trigger event (a queue
// message's id, the timer's schedule status) are fixed for the run, taken at its start.

// netDateTime formats t as Newtonsoft serialises a DateTimeOffset / local DateTime: ISO 8601 with
// up to seven fraction digits (none when zero) and the offset.
func netDateTime(t time.Time) string {
	s := t.Format("2006-01-02T15:04:05.9999999")
	return s + t.Format("-07:00")
}

// netDateTimeMax is DateTimeOffset.MaxValue as Newtonsoft writes it.
const netDateTimeMax = "9999-12-31T23:59:59.9999999+00:00"

// netNeverRun is DateTime.MinValue in a UTC container: the Last of a timer that never ran.
const netNeverRun = "0001-01-01T00:00:00+00:00"

// nonHTTPTrigger sets the input data and trigger metadata of a non-HTTP trigger.
func nonHTTPTrigger(req *rpc.InvocationRequest, f *host.Function, trig *host.Binding, p Payload, now time.Time) {
	data := triggerData(trig, p.Body)
	meta := req.TriggerMetadata
	str := func(s string) *rpc.TypedData { return &rpc.TypedData{Data: &rpc.TypedData_String_{String_: s}} }
	js := func(s string) *rpc.TypedData { return &rpc.TypedData{Data: &rpc.TypedData_Json{Json: s}} }
	switch strings.ToLower(trig.Type) {
	case "queuetrigger":
		// The queue binding contract (storage extension v5): every key, with the host's types.
		if utf8.Valid(p.Body) {
			meta["QueueTrigger"] = str(string(p.Body)) // omitted for a message that is not text
		}
		meta["DequeueCount"] = js("1")
		meta["ExpirationTime"] = js(`"` + netDateTimeMax + `"`)
		meta["Id"] = str(stableGUID("queue-message", f.ID))
		meta["InsertionTime"] = js(`"` + netDateTime(now) + `"`)
		meta["NextVisibleTime"] = js(`"` + netDateTimeMax + `"`)
		meta["PopReceipt"] = str(stableGUID("pop-receipt", f.ID))
	case "timertrigger":
		data = js(timerInfo(trig, now))
		// DateTime.Now.ToString() in the invariant culture of a container.
		meta["TimerTrigger"] = str(now.Format("01/02/2006 15:04:05"))
	}
	if deferredBinding(f, trig) {
		data = &rpc.TypedData{Data: &rpc.TypedData_ModelBindingData{ModelBindingData: modelBindingData(trig, p.Body)}}
	}
	req.InputData = []*rpc.ParameterBinding{{Name: trig.Name, RpcData: &rpc.ParameterBinding_Data{Data: data}}}
}

// timerInfo is the host's TimerInfo for a timer trigger, serialised as Newtonsoft does by
// default (PascalCase): AdjustForDST is true for a cron schedule and false for a TimeSpan one;
// ScheduleStatus is null when the schedule is not monitored (useMonitor false, which the host
// forces for schedules firing more often than once a minute).
func timerInfo(trig *host.Binding, now time.Time) string {
	schedule, _ := trig.Raw["schedule"].(string)
	timeSpan := strings.Contains(schedule, ":") && !strings.Contains(strings.TrimSpace(schedule), " ")
	monitor := true
	if v, ok := trig.Raw["useMonitor"]; ok {
		switch b := v.(type) {
		case bool:
			monitor = b
		case string:
			monitor = !strings.EqualFold(b, "false")
		}
	}
	if timeSpan {
		if d, err := host.ParseTimeSpan(schedule); err == nil && d < time.Minute {
			monitor = false
		}
	} else if f := strings.Fields(schedule); len(f) == 6 && f[0] != "0" {
		monitor = false // a cron schedule with seconds other than 0 fires more than once a minute
	}
	status := "null"
	if monitor {
		status = fmt.Sprintf(`{"Last":%q,"Next":%q,"LastUpdated":%q}`, netNeverRun, netDateTime(now), netDateTime(now))
	}
	return fmt.Sprintf(`{"Schedule":{"AdjustForDST":%t},"ScheduleStatus":%s,"IsPastDue":false}`, !timeSpan, status)
}

// deferredBinding reports whether the host binds trig as ParameterBindingData: its binding JSON
// has properties.SupportsDeferredBinding true (a bool, or a string, any key case), unless another
// binding of the function holds a binding expression.
func deferredBinding(f *host.Function, trig *host.Binding) bool {
	props, _ := trig.Raw["properties"].(map[string]any)
	on := false
	for k, v := range props {
		if strings.EqualFold(k, "SupportsDeferredBinding") {
			switch b := v.(type) {
			case bool:
				on = b
			case string:
				on = strings.EqualFold(b, "true")
			}
		}
	}
	if !on {
		return false
	}
	for _, b := range f.Bindings {
		if b.Name == trig.Name {
			continue
		}
		for _, v := range b.Raw {
			if s, ok := v.(string); ok && strings.Contains(s, "{") && strings.Contains(s, "}") {
				return false
			}
		}
	}
	return true
}

// modelBindingData is the ParameterBindingData the trigger's extension makes of the message.
func modelBindingData(trig *host.Binding, body []byte) *rpc.ModelBindingData {
	m := &rpc.ModelBindingData{Version: "1.0", Source: trig.Type, ContentType: "application/json", Content: body}
	switch strings.ToLower(trig.Type) {
	case "queuetrigger":
		m.Source = "AzureStorageQueues"
	case "blobtrigger":
		m.Source = "AzureStorageBlobs"
	case "eventhubtrigger":
		m.Source, m.ContentType = "AzureEventHubsEventData", "application/octet-stream"
	}
	return m
}

// retryContext is what the host sends on a first attempt of a function with a retry strategy.
func retryContext(f *host.Function) *rpc.RetryContext {
	if f.Retry == nil {
		return nil
	}
	return &rpc.RetryContext{RetryCount: 0, MaxRetryCount: f.Retry.GetMaxRetryCount()}
}

// stableGUID is a GUID derived from its inputs (the same for the whole run).
func stableGUID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
