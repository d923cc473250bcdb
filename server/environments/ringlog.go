package environments

import (
	"bytes"
	"sync"
)

// maxLineBytes bounds one kept access-log line.
const maxLineBytes = 4 << 10

// ringLog is an io.Writer that keeps the last n lines written to it.
type ringLog struct {
	mu      sync.Mutex
	buf     []string
	next    int
	full    bool
	partial []byte
}

func newRingLog(n int) *ringLog { return &ringLog{buf: make([]string, n)} }

// Write splits b into lines and keeps the last ones; a line without its
// newline yet waits for the rest.
func (r *ringLog) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if room := maxLineBytes - len(r.partial); room > 0 {
				r.partial = append(r.partial, b[:min(len(b), room)]...)
			}
			break
		}
		line := b[:i]
		if len(r.partial) > 0 {
			line = append(r.partial, line...)
			r.partial = r.partial[:0]
		}
		if len(line) > maxLineBytes {
			line = line[:maxLineBytes]
		}
		r.buf[r.next] = string(line)
		r.next++
		if r.next == len(r.buf) {
			r.next, r.full = 0, true
		}
		b = b[i+1:]
	}
	return n, nil
}

// lines returns the kept lines, oldest first.
func (r *ringLog) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.buf[:r.next]...)
	}
	return append(append([]string(nil), r.buf[r.next:]...), r.buf[:r.next]...)
}
