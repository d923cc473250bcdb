//go:build !unix

package proxy

// probe cannot ask the kernel here: an idle connection counts as open,
// and a request that finds it closed is re-sent by the rules of
// upstream_http1.go (shouldRetry).
func (pc *upConn) probe() bool { return true }

// peek is unused where probe cannot ask the kernel.
func (pc *upConn) peek(uintptr) bool { return true }
