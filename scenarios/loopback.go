package scenarios

import (
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
