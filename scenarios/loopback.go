package scenarios

import (
	"fmt"
	"net"
	"strings"
)

// IsLoopbackHost reports whether host (no port) is a loopback address
// (127.0.0.0/8, ::1) or localhost: the targets every run may dial, and
// the addresses the server may listen on without tokens.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackOnly is the default target allow-list: it admits a host:port on
// loopback (IsLoopbackHost) and refuses anything else.
func LoopbackOnly(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("target %q: %w", hostport, err)
	}
	if IsLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("target %s is not on the allow-list (loopback only; widen it with --allow)", hostport)
}
