//go:build unix

package proxy

import "syscall"

// probe asks the kernel, without blocking and without consuming
// anything, whether an idle connection is still open: a pending byte
// (unsolicited), end of stream or an error mean it is not. It is what
// lets a request avoid a connection the upstream closed while idle, as
// an idle read would notice it, without a goroutine per connection.
func (pc *upConn) probe() bool {
	if err := pc.raw.Read(pc.peekFn); err != nil {
		return false
	}
	return pc.peekN < 0 && pc.peekErr == syscall.EAGAIN
}

// peek is probe's one non-blocking MSG_PEEK receive; it never asks the
// poller to wait.
func (pc *upConn) peek(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), pc.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	pc.peekN, pc.peekErr = n, err
	if err != nil {
		pc.peekN = -1
	}
	return true
}
