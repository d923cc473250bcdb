package environments

import (
	"bytes"
	"strings"
	"sync"
)

// ringLog is an io.Writer that keeps the last lines written to it: at
// most maxLines, in at most maxBytes (older lines are dropped first). It
// copies what it is given into one buffer, so keeping a line allocates
// nothing.
type ringLog struct {
	mu       sync.Mutex
	buf      []byte
	maxBytes int
	maxLines int
}

// bytesPerLine is the room a kept line is given on average: an access-log
// line is about 300 bytes.
const bytesPerLine = 512

func newRingLog(lines int) *ringLog {
	return &ringLog{maxLines: lines, maxBytes: lines * bytesPerLine, buf: make([]byte, 0, lines*bytesPerLine)}
}

// Write keeps b's lines; a line without its newline yet is kept as the
// start of the next.
func (r *ringLog) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(b)
	if len(b) > r.maxBytes {
		b = b[len(b)-r.maxBytes:]
	}
	if over := len(r.buf) + len(b) - r.maxBytes; over > 0 {
		// Drop whole lines from the front to make room.
		cut := over
		if i := bytes.IndexByte(r.buf[min(cut, len(r.buf)):], '\n'); i >= 0 {
			cut += i + 1
		} else {
			cut = len(r.buf)
		}
		r.buf = r.buf[:copy(r.buf, r.buf[min(cut, len(r.buf)):])]
	}
	r.buf = append(r.buf, b...)
	return n, nil
}

// lines returns the kept complete lines, oldest first, at most maxLines.
func (r *ringLog) lines() []string {
	r.mu.Lock()
	text := string(r.buf)
	r.mu.Unlock()
	end := strings.LastIndexByte(text, '\n')
	if end < 0 {
		return []string{}
	}
	out := strings.Split(text[:end], "\n")
	if len(out) > r.maxLines {
		out = out[len(out)-r.maxLines:]
	}
	return out
}
