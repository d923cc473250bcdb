package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"syscall"
)

// Guard holds the target rules of deliveries: a receiver must be at a
// public address or allowed explicitly.
type Guard struct {
	// Allow reports whether a receiver beyond the public addresses is
	// allowed: it is asked with the URL's host name and port, then with
	// each address and port ("10.0.0.5:443"). It is the explicit
	// allow-list (serve --allow), where loopback is no exception: a
	// receiver on this machine must be named too. Nil allows none.
	Allow func(hostport string) error
	// Resolver looks host names up; nil means net.DefaultResolver.
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// RefusedError is a receiver the target rules refuse; Reason says why.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// StatusError is a receiver's answer other than 2xx.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return "status " + strconv.Itoa(e.Code) }

// Failure classes a delivery records in Delivery.Err, with "status 4xx",
// "status 429", "status 5xx" and "redirect" for receivers that answered.
const (
	FailRefused     = "refused by the allow-list"
	FailDNS         = "name not resolved"
	FailConnRefused = "connection refused"
	FailTimeout     = "timeout"
	FailTLS         = "tls"
	FailNetwork     = "connection failed"
	FailCancelled   = "cancelled"
)

// classify names the class of a failed attempt.
func classify(err error) string {
	var (
		refused  *RefusedError
		status   *StatusError
		dnsErr   *net.DNSError
		netErr   net.Error
		record   tls.RecordHeaderError
		alert    tls.AlertError
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &status):
		return statusClass(status.Code)
	case errors.As(err, &refused):
		return FailRefused
	case errors.Is(err, context.Canceled):
		return FailCancelled
	case errors.As(err, &dnsErr):
		return FailDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return FailConnRefused
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return FailTimeout
	case errors.As(err, &record), errors.As(err, &alert), errors.As(err, &verify), errors.As(err, &unknown),
		errors.As(err, &hostname), errors.As(err, &invalid):
		return FailTLS
	}
	return FailNetwork
}

func statusClass(code int) string {
	switch {
	case code == 429:
		return "status 429"
	case code >= 500:
		return "status 5xx"
	case code >= 400:
		return "status 4xx"
	case code >= 300:
		return "redirect"
	}
	return "status " + strconv.Itoa(code)
}

// nonPublic are the ranges a receiver may be in only when allowed
// explicitly: this host and network, private, shared (CGNAT), loopback,
// link-local, documentation, benchmarking, multicast and reserved space,
// and the IPv6 prefixes that embed IPv4 addresses.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/96", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
		"2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}()

// public reports whether a receiver at ip needs no explicit allowance.
func public(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return ip.IsValid()
}

// addrs returns the addresses a delivery to host and port may dial: the
// host's own, when the host (a name or an address) is allowed explicitly;
// else every address it is or resolves to, each public or allowed, or a
// *RefusedError naming the first that is not.
func (g *Guard) addrs(ctx context.Context, host, port string) ([]netip.Addr, error) {
	named := g.allowed(host, port)
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		r := g.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		if ips, err = r.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
	}
	if named {
		return ips, nil
	}
	for _, ip := range ips {
		if !public(ip) && !g.allowed(ip.Unmap().String(), port) {
			return nil, g.refusal(host, ip)
		}
	}
	return ips, nil
}

func (g *Guard) allowed(host, port string) bool {
	return g.Allow != nil && g.Allow(net.JoinHostPort(host, port)) == nil
}

func (g *Guard) refusal(host string, ip netip.Addr) *RefusedError {
	what := "is"
	if host != ip.String() {
		what = "resolves to " + ip.String() + ", which is"
	}
	return &RefusedError{Reason: fmt.Sprintf("%s %s not a public address (private, loopback, link-local or reserved) and not on the allow-list; widen it with --allow %s", host, what, ip.Unmap())}
}

// dial connects to a checked address of addr's host, trying each in turn.
func (g *Guard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := g.addrs(ctx, host, port)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	var first error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// urlPort is the URL's port, or its scheme's.
func urlPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}
