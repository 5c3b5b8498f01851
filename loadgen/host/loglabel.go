package host

import (
	"io"
	"sync/atomic"
)

// labelWriter puts a label at the start of every line written through it: with several worker
// processes writing to one log, each line says which process it came from. The label is set once
// the process is spawned (its pid); lines before that carry none.
type labelWriter struct {
	w       io.Writer
	label   atomic.Pointer[string]
	midLine bool // the last write ended inside a line (only the log's writer goroutine writes)
	buf     []byte
}

func newLabelWriter(w io.Writer) *labelWriter { return &labelWriter{w: w} }

func (l *labelWriter) set(label string) { l.label.Store(&label) }

func (l *labelWriter) Write(p []byte) (int, error) {
	label := ""
	if s := l.label.Load(); s != nil {
		label = *s
	}
	if label == "" {
		return l.w.Write(p)
	}
	n := len(p)
	b := l.buf[:0]
	for len(p) > 0 {
		if !l.midLine {
			b = append(b, label...)
		}
		i := 0
		for i < len(p) && p[i] != '\n' {
			i++
		}
		if i < len(p) {
			b = append(b, p[:i+1]...)
			p = p[i+1:]
			l.midLine = false
		} else {
			b = append(b, p...)
			p = nil
			l.midLine = true
		}
	}
	l.buf = b
	if _, err := l.w.Write(b); err != nil {
		return 0, err
	}
	return n, nil
}
