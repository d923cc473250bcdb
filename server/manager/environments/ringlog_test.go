package environments

import (
	"fmt"
	"strings"
	"testing"
)

func TestRingLogKeepsTheLastLines(t *testing.T) {
	r := newRingLog(4)
	for i := range 10 {
		fmt.Fprintf(r, "line %d\n", i)
	}
	if got, want := strings.Join(r.lines(), "|"), "line 6|line 7|line 8|line 9"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	// A line written in pieces is one line, shown once it is whole.
	r.Write([]byte("par"))
	if got := r.lines(); got[len(got)-1] != "line 9" {
		t.Errorf("a partial line is shown: %q", got)
	}
	r.Write([]byte("tial\n"))
	if got := r.lines(); got[len(got)-1] != "partial" {
		t.Errorf("the completed line: %q", got)
	}
	// The bytes stay bounded, whole lines dropped first.
	long := strings.Repeat("x", r.maxBytes-8)
	fmt.Fprintf(r, "%s\nlast\n", long)
	if len(r.buf) > r.maxBytes {
		t.Errorf("buffer holds %d bytes, above %d", len(r.buf), r.maxBytes)
	}
	if got := r.lines(); got[len(got)-1] != "last" || len(got) != 2 {
		t.Errorf("after a long line: %d lines, last %q", len(got), got[len(got)-1])
	}
	if got := newRingLog(3).lines(); len(got) != 0 {
		t.Errorf("an empty log: %q", got)
	}
}
