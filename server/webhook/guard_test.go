package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/server/safety"
	"github.com/faultline/faultline/server/webhook"
)

// fakeResolver answers host names from a table, and counts lookups.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// guard builds the Guard serve builds from --allow entries.
func guard(t *testing.T, resolver fakeResolver, allow ...string) *webhook.Guard {
	t.Helper()
	list, err := safety.ExplicitAllowList(allow)
	if err != nil {
		t.Fatal(err)
	}
	g := &webhook.Guard{Allow: list}
	if resolver != nil {
		g.Resolver = resolver
	}
	return g
}

func TestGuardRefusesReceiversThatAreNotPublic(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	port := portOf(t, r.srv.URL)
	names := fakeResolver{
		"metadata.attacker.example": {"169.254.169.254"},
		// A name that answers a public address and a private one: every
		// address is checked, so the private one refuses it.
		"rebind.attacker.example": {"93.184.216.34", "10.0.0.1"},
		"localhost":               {"127.0.0.1", "::1"},
		"hooks.example":           {"93.184.216.34"},
	}
	for _, tc := range []struct {
		name, url string
		allow     []string
		// refused is the reason's text; empty: the URL passes the rules
		refused string
	}{
		{name: "the cloud metadata address", url: "http://169.254.169.254/latest/meta-data/", refused: "169.254.169.254 is not a public address"},
		{name: "a private address", url: "http://10.1.2.3:8080/hook", refused: "10.1.2.3 is not a public address"},
		{name: "a private address written as IPv4 in IPv6", url: "http://[::ffff:192.168.1.1]/hook", refused: "not a public address"},
		{name: "an IPv6 unique local address", url: "http://[fd00::1]/hook", refused: "not a public address"},
		{name: "an IPv6 link-local address", url: "http://[fe80::1]/hook", refused: "not a public address"},
		{name: "loopback is not allowed unless named", url: r.srv.URL, refused: "127.0.0.1 is not a public address"},
		{name: "a name for the metadata address", url: "http://metadata.attacker.example/", refused: "resolves to 169.254.169.254"},
		{name: "a name with a private address among its answers", url: "http://rebind.attacker.example/", refused: "resolves to 10.0.0.1"},
		{name: "localhost by name", url: "http://localhost:" + port + "/", refused: "resolves to 127.0.0.1"},
		{name: "a user and password", url: "http://user:s3cr3t-pw@hooks.example/", refused: "user name or password"},
		{name: "a public receiver", url: "https://hooks.example/hook"},
		{name: "a name that does not resolve now is checked when delivered", url: "https://later.example/hook"},
		{name: "loopback named on the allow-list", url: r.srv.URL, allow: []string{"127.0.0.1"}},
		{name: "a private network on the allow-list", url: "http://10.1.2.3:8080/hook", allow: []string{"10.0.0.0/8"}},
		{name: "a host name on the allow-list", url: "http://localhost:" + port + "/", allow: []string{"localhost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := webhook.NewGuarded(nil, guard(t, names, tc.allow...))
			err := s.Check(context.Background(), tc.url)
			var refused *webhook.RefusedError
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("Check refused it: %v", err)
			case tc.refused != "" && (!errors.As(err, &refused) || !strings.Contains(err.Error(), tc.refused)):
				t.Errorf("Check = %v, want a refusal saying %q", err, tc.refused)
			}
			if strings.Contains(errString(err), "s3cr3t-pw") {
				t.Errorf("the refusal repeats the password: %v", err)
			}
		})
	}
}

func TestGuardedDeliveriesReachOnlyAllowedReceivers(t *testing.T) {
	r := newReceiver(t, http.StatusNoContent)
	port := portOf(t, r.srv.URL)
	ctx := context.Background()

	// Allowed explicitly: delivered.
	allowed := webhook.NewGuarded([]byte("k"), guard(t, nil, "127.0.0.1"))
	if d := allowed.Send(ctx, r.srv.URL+"/hook", "finished", 1); !d.OK() || d.Attempts != 1 {
		t.Fatalf("delivery to an allowed receiver = %+v", d)
	}

	// Not allowed: refused once, not retried, nothing sent, and the
	// record says only that.
	strict := webhook.NewGuarded(nil, guard(t, fakeResolver{"rebind.attacker.example": {"127.0.0.1"}}))
	for _, u := range []string{r.srv.URL + "/hook", "http://169.254.169.254/latest/meta-data/", "http://10.9.9.9:" + port + "/", "http://rebind.attacker.example:" + port + "/hook"} {
		d := strict.Send(ctx, u, "finished", 1)
		if d.OK() || d.Attempts != 1 || d.Err != webhook.FailRefused || d.StatusCode != 0 {
			t.Errorf("delivery to %s = %+v, want one attempt refused by the allow-list", u, d)
		}
	}
	if n := len(r.requests()); n != 1 {
		t.Errorf("receiver got %d requests, want only the allowed one", n)
	}
	if d := strict.Send(ctx, "http://user:pw@hooks.example/", "finished", 1); d.Attempts != 0 || !strings.Contains(d.Err, "user name or password") || strings.Contains(d.Err, "pw") {
		t.Errorf("delivery with a password = %+v", d)
	}
}

func TestFailuresAreRecordedAsClasses(t *testing.T) {
	ctx := context.Background()
	s := webhook.NewGuarded(nil, guard(t, fakeResolver{}, "127.0.0.1"))

	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(release) // before Close, which waits for the handler
	failing := newReceiver(t, http.StatusBadGateway)
	untrusted := httptest.NewTLSServer(http.NotFoundHandler()) // a certificate no one signed
	defer untrusted.Close()
	for _, tc := range []struct {
		name, url string
		timeout   time.Duration
		want      string
	}{
		{name: "nothing listens", url: closedURL, want: webhook.FailConnRefused},
		{name: "the receiver never answers", url: hanging.URL, timeout: 300 * time.Millisecond, want: webhook.FailTimeout},
		{name: "a certificate the server does not trust", url: untrusted.URL, want: webhook.FailTLS},
		{name: "the receiver fails", url: failing.srv.URL, want: "status 5xx"},
		{name: "the name does not resolve", url: "http://nowhere.example/", want: webhook.FailDNS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctx
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			d := s.Send(ctx, tc.url, "failed", 1)
			if got, _, _ := strings.Cut(d.Err, ";"); got != tc.want {
				t.Errorf("Err = %q (detail %q), want %q", d.Err, d.Detail, tc.want)
			}
			// The record names no address or port of the network.
			if u, _ := url.Parse(tc.url); strings.Contains(d.Err, u.Port()) && u.Port() != "" {
				t.Errorf("Err %q names the port", d.Err)
			}
		})
	}
}

func portOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
