package host

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// emitLongLines is a child process's output: a 5 MiB line on stderr, then 20 000 short lines.
func emitLongLines() {
	w := bufio.NewWriterSize(os.Stderr, 64<<10)
	w.WriteString("BEGIN")
	w.WriteString(strings.Repeat("x", 5<<20))
	w.WriteString("END\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(w, "line %d\n", i)
	}
	w.Flush()
}

// TestLongOutputLineFlows: a worker writing a 5 MiB line and then 20 000 short ones is never held
// up: every line is read, the long one kept as its head and tail, and the process exits.
func TestLongOutputLineFlows(t *testing.T) {
	exe, _ := os.Executable()
	log := NewWorkerLog(nil)
	p, err := startProcess(&Command{Path: exe, Args: []string{exe}, Dir: t.TempDir(), Env: []string{"FBENCH_TEST_EMIT_LONG_LINES=1"}}, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		p.kill()
		t.Fatal("the child is still running: its output was not read")
	}
	log.Close()
	if p.code != 0 {
		t.Fatalf("child exit %s", p.state)
	}
	if n := log.written.Load() + log.Dropped(); n != 20001 {
		t.Errorf("%d lines read, want 20001", n)
	}
	if tail := log.Tail(); len(tail) == 0 || tail[len(tail)-1] != "line 19999" {
		t.Errorf("last stderr line %q, want line 19999", tail[len(tail)-1:])
	}
}

func TestReadLines(t *testing.T) {
	long := "H" + strings.Repeat("m", 100) + "T"
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"a\nb\r\nc\rd", []string{"a", "b", "c", "d"}},
		{"a\n\nb\n", []string{"a", "", "b"}},
		{"\r\n\r\n", []string{"", ""}},
		{"", nil},
		{long + "\nshort\n", []string{"H" + strings.Repeat("m", 9) + " …[87 bytes of this line not kept]… " + strings.Repeat("m", 4) + "T", "short"}},
	} {
		var got []string
		// A reader that hands out 3 bytes at a time: lines and "\r\n" straddle reads.
		readLines(&slowReader{s: tc.in}, 10, 5, func(l string) { got = append(got, l) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("readLines(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

type slowReader struct{ s string }

func (r *slowReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, fmt.Errorf("EOF")
	}
	n := copy(p[:min(len(p), 3)], r.s)
	r.s = r.s[n:]
	return n, nil
}
