package loadgen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fbench/fbench/loadgen/host"
	"github.com/fbench/fbench/protos/rpc"
)

// generation is one worker and its stream; a restart starts a new generation.
type generation struct {
	w       *host.Worker
	ch      *channel
	proc    uint16 // ch.index
	stream  host.Stream
	targets []target
	recvErr error
	dead    atomic.Bool // its stream failed or ended: no more sends
	fwd     *forwarder  // HTTP proxying mode: the client to the worker's HttpUri; nil otherwise
}

// target is a Target resolved against the loaded functions, with its request prepared once.
type target struct {
	fn     *host.Function
	weight int
	tmpl   *requestTemplate // the request encoded once; each send adds its id and trace context
	proxy  *proxyRequest    // HTTP proxying mode: the request forwarded to the worker's HttpUri
}

// newGeneration prepares the targets of a (new) worker.
func (e *engine) newGeneration(w *host.Worker, c *channel) (*generation, error) {
	targets, err := e.prepareTargets(w)
	if err != nil {
		return nil, err
	}
	g := &generation{w: w, ch: c, proc: uint16(c.index), stream: w.Stream(), targets: targets}
	for _, t := range targets {
		if t.proxy != nil {
			conns := e.cfg.HTTPMaxConns
			if conns <= 0 {
				conns = DefaultHTTPMaxConns
			}
			timeout := time.Duration(0)
			if e.cfg.Timeout > 0 {
				timeout = e.cfg.Timeout + 2*time.Second // fbench's own deadline comes first
			}
			g.fwd = newForwarder(w.HTTPProxy(), conns, timeout)
			break
		}
	}
	return g, nil
}

// prepareTargets resolves the mix against w's loaded functions and builds each request once. The
// mix's names and weights are the same for every generation; ids and shapes come from w.
func (e *engine) prepareTargets(w *host.Worker) ([]target, error) {
	byName := map[string]*host.Function{}
	for _, f := range w.Functions {
		byName[f.Name] = f
	}
	first := e.names == nil
	mix, err := e.mixFor(w, byName, first)
	if err != nil {
		return nil, err
	}
	var targets []target
	templates := map[string]string{}
	payload := e.cfg.Payload
	if payload.RoutePrefix == "" && w.Command != nil {
		if p, ok := hostJSONRoutePrefix(w.Command.AppDir); ok {
			payload.RoutePrefix = cmpOr(p, "/") // an empty prefix: routes at the root
		}
	}
	for _, t := range mix {
		f, err := loadedFunction(w, byName, t)
		if err != nil {
			return nil, err
		}
		req, err := BuildRequest(f, w.Capabilities, payload)
		var missing *MissingRouteParamError
		if errors.As(err, &missing) && len(e.cfg.Targets) == 0 {
			// Not asked for by name (the mix is every loaded function): leave it out, and say so.
			if first {
				e.notices = append(e.notices, missing.Error()+": not invoked")
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		h, err := httpSideOf(w, f, payload)
		if err != nil {
			return nil, err
		}
		if h.isHTTP {
			templates[f.Name] = h.route
		}
		req.TraceContext = &rpc.RpcTraceContext{Attributes: map[string]string{}}
		tmpl, err := newRequestTemplate(req)
		if err != nil {
			return nil, fmt.Errorf("function %q: encoding its request: %w", t.Function, err)
		}
		targets = append(targets, target{fn: f, weight: t.Weight, tmpl: tmpl, proxy: h.proxy})
		if first {
			e.addTarget(f.Name, t.Weight, h)
		}
	}
	if len(targets) == 0 {
		return nil, errors.New("no function to invoke: " + strings.Join(e.notices, "; "))
	}
	if err := checkRouteParams(e.cfg.Payload.RouteParams, templates); err != nil {
		return nil, err
	}
	return targets, nil
}

// mixFor is the invocation mix on w: the one asked for, or every loaded function with equal
// weights but those the app disables. A first generation's notices are kept.
func (e *engine) mixFor(w *host.Worker, byName map[string]*host.Function, first bool) ([]Target, error) {
	if mix := e.cfg.Targets; len(mix) > 0 {
		if first {
			for _, t := range mix {
				if f := byName[t.Function]; f != nil && f.Disabled {
					e.notices = append(e.notices, fmt.Sprintf("function %s is disabled in the app; it is invoked because it was named", f.Name))
				}
			}
		}
		return mix, nil
	}
	// As the host: a function the app disables (function.json, AzureWebJobs.NAME.Disabled)
	// gets no traffic unless it is named.
	var mix []Target
	var disabled []string
	for _, f := range w.Functions {
		if f.Disabled {
			disabled = append(disabled, f.Name)
			continue
		}
		mix = append(mix, Target{Function: f.Name, Weight: 1})
	}
	if len(mix) == 0 && len(disabled) > 0 {
		return nil, fmt.Errorf("every loaded function is disabled (%s): name one with --function to invoke it", strings.Join(disabled, ", "))
	}
	if first && len(disabled) > 0 {
		e.notices = append(e.notices, fmt.Sprintf("disabled functions not invoked (the app disables them; name one with --function to invoke it): %s", strings.Join(disabled, ", ")))
	}
	return mix, nil
}

// loadedFunction is the function mix entry t names among w's loaded functions.
func loadedFunction(w *host.Worker, byName map[string]*host.Function, t Target) (*host.Function, error) {
	f, ok := byName[t.Function]
	if !ok {
		for _, ff := range w.Failed {
			if ff.Name == t.Function {
				return nil, fmt.Errorf("function %q failed to load: %s", t.Function, ff.LoadError)
			}
		}
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown function %q: the worker loaded %s", t.Function, strings.Join(names, ", "))
	}
	if t.Weight <= 0 {
		return nil, fmt.Errorf("function %q: weight must be positive", t.Function)
	}
	return f, nil
}

// httpSide is what an HTTP-triggered function adds to its target.
type httpSide struct {
	isHTTP bool
	route  string        // the trigger's route template
	out    string        // the name of its HTTP output binding ("$return", another name, or "" for none)
	proxy  *proxyRequest // HTTP proxying mode: the request forwarded to the worker's HttpUri
}

// httpSideOf is f's HTTP side on worker w (none unless f is HTTP-triggered).
func httpSideOf(w *host.Worker, f *host.Function, payload Payload) (httpSide, error) {
	trig := f.Trigger()
	if trig == nil || !strings.EqualFold(trig.Type, "httpTrigger") {
		return httpSide{}, nil
	}
	h := httpSide{isHTTP: true}
	h.route, _ = trig.Raw["route"].(string)
	for _, b := range f.Bindings {
		if strings.EqualFold(b.Type, "http") && b.Direction != rpc.BindingInfo_in {
			h.out = b.Name
		}
	}
	if p := w.HTTPProxy(); p != nil {
		in, err := newIncoming(f, trig, payload)
		if err != nil {
			return h, err
		}
		if h.proxy, err = newProxyRequest(p, in); err != nil {
			return h, fmt.Errorf("function %q: the URL to forward to: %w", f.Name, err)
		}
	}
	return h, nil
}

// addTarget adds a target of the mix (the first generation's, the same in every generation) to
// the engine: its name, its weight, and what the receiver needs to know of its HTTP side.
func (e *engine) addTarget(name string, weight int, h httpSide) {
	e.isHTTP = append(e.isHTTP, h.isHTTP)
	e.httpOut = append(e.httpOut, h.out)
	e.proxied = e.proxied || h.proxy != nil
	e.names = append(e.names, name)
	e.totalW += weight
	e.cumW = append(e.cumW, e.totalW)
}

// pick chooses a target by weight.
func (e *engine) pick(r *rand.Rand) int {
	if len(e.cumW) == 1 {
		return 0
	}
	x := r.IntN(e.totalW)
	for i, c := range e.cumW {
		if x < c {
			return i
		}
	}
	return len(e.cumW) - 1
}

// cmpOr returns a, or b when a is empty.
func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
