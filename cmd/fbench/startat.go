package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// startTime reads --start-at: an RFC 3339 time, or +D from now. The measured phase starts then and
// the warm-up before it, so the time must leave room for the warm-up.
func (f *runFlags) startTime(now time.Time) (time.Time, error) {
	if f.startAt == "" {
		return time.Time{}, nil
	}
	if f.repeat > 1 {
		return time.Time{}, fmt.Errorf("--start-at cannot be combined with --repeat: one start time serves one run")
	}
	var at time.Time
	if rel, ok := strings.CutPrefix(f.startAt, "+"); ok {
		d, err := time.ParseDuration(rel)
		if err != nil || d <= 0 {
			return time.Time{}, fmt.Errorf("invalid --start-at %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or +D from now (+90s)", f.startAt)
		}
		at = now.Add(d)
	} else {
		t, err := time.Parse(time.RFC3339Nano, f.startAt)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid --start-at %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or +D from now (+90s)", f.startAt)
		}
		at = t
	}
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("invalid --start-at %s: that time passed %s ago (now %s)", f.startAt, now.Sub(at).Round(time.Millisecond), now.UTC().Format(time.RFC3339))
	}
	if lead := at.Sub(now); lead <= f.warmup {
		return time.Time{}, fmt.Errorf("invalid --start-at %s: it is %s from now, and the --warmup of %s must run before it", f.startAt, lead.Round(time.Millisecond), f.warmup)
	}
	return at, nil
}

// stampMs is RFC 3339 to the millisecond.
const stampMs = "2006-01-02T15:04:05.000Z07:00"

// startAtLine says, before the wait, when the measured phase starts and how long fbench waits.
func startAtLine(w io.Writer, p *plan, now time.Time) {
	at := p.cfg.StartAt
	if at.IsZero() {
		return
	}
	warm := p.cfg.Warmup
	if p.schedule != nil {
		warm = p.schedule.WarmupEnd()
	}
	fmt.Fprintf(w, "fbench: the measured phase starts at %s (--start-at), the warm-up at %s: waiting %s with the worker ready\n",
		at.UTC().Format(stampMs), at.Add(-warm).UTC().Format(stampMs), at.Add(-warm).Sub(now).Round(time.Millisecond))
}
