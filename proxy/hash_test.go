package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"testing"
)

// hashDR is a DestinationRule balancing reviews by a consistent hash.
func hashDR(consistentHash string) string {
	return outlierDR("    loadBalancer:\n      consistentHash: " + consistentHash + "\n")
}

// stickyAndSpread sends each key several times and checks every key sticks
// to one endpoint and the keys reach more than one endpoint.
func stickyAndSpread(t *testing.T, keys int, send func(key int) string) {
	t.Helper()
	owners := map[string]int{}
	for k := 0; k < keys; k++ {
		first := send(k)
		for i := 0; i < 4; i++ {
			if got := send(k); got != first {
				t.Fatalf("key %d went to %s, then %s", k, first, got)
			}
		}
		owners[first]++
	}
	if len(owners) < 2 {
		t.Errorf("%d keys all went to %v: no spread", keys, owners)
	}
}

func threeEndpoints(t *testing.T) string {
	a, b, c := newUpstream(t, "a"), newUpstream(t, "b"), newUpstream(t, "c")
	return svc("reviews", 9080, a.addr(), b.addr(), c.addr())
}

func TestConsistentHashHeader(t *testing.T) {
	for _, algo := range []string{"", ", ringHash: {minimumRingSize: 64}", ", maglev: {tableSize: 65537}", ", minimumRingSize: 512"} {
		t.Run(algo, func(t *testing.T) {
			h := start(t, experiment(threeEndpoints(t), hashDR("{httpHeaderName: x-user"+algo+"}")))
			stickyAndSpread(t, 30, func(k int) string { return h.get("reviews", "/", fmt.Sprintf("x-user: user-%d", k)).body })
		})
	}
}

func TestConsistentHashQueryParameter(t *testing.T) {
	h := start(t, experiment(threeEndpoints(t), hashDR("{httpQueryParameterName: user}")))
	stickyAndSpread(t, 30, func(k int) string {
		return h.get("reviews", fmt.Sprintf("/p?a=1&user=u%%2F%d&user=ignored", k)).body
	})
}

// useSourceIp hashes the client's address: clients bound to different
// loopback addresses stick to their endpoint and spread.
func TestConsistentHashSourceIP(t *testing.T) {
	h := start(t, experiment(threeEndpoints(t), hashDR("{useSourceIp: true}")))
	clients := map[int]*http.Client{}
	stickyAndSpread(t, 20, func(k int) string {
		c, ok := clients[k]
		if !ok {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(k+1))}}
			tr := &http.Transport{Proxy: nil, DisableKeepAlives: true,
				DialContext: func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) }}
			c = &http.Client{Transport: tr}
			clients[k] = c
		}
		req, _ := http.NewRequest("GET", "http://"+h.p.MeshAddr()+"/", nil)
		req.Host = "reviews"
		res, err := c.Do(req)
		if err != nil {
			t.Skipf("binding a client to 127.0.1.%d: %v", k+1, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return string(body)
	})
}

var setCookieRE = regexp.MustCompile(`^session="([0-9a-f]{16})"; Max-Age=60; Path=/api; HttpOnly$`)

// httpCookie with a ttl: a request without the cookie gets one generated
// (Set-Cookie on the response, Envoy's format); requests carrying it stick.
func TestConsistentHashCookie(t *testing.T) {
	h := start(t, experiment(threeEndpoints(t), hashDR("{httpCookie: {name: session, path: /api, ttl: 60s}}")))
	owners := map[string]bool{}
	for i := 0; i < 20; i++ {
		// A fresh client connection per cookie: the value is derived from
		// the connection's addresses.
		h.client.Transport.(*http.Transport).CloseIdleConnections()
		r := h.get("reviews", "/")
		m := setCookieRE.FindStringSubmatch(r.header.Get("Set-Cookie"))
		if m == nil {
			t.Fatalf("Set-Cookie %q", r.header.Values("Set-Cookie"))
		}
		for j := 0; j < 4; j++ {
			again := h.get("reviews", "/", "Cookie: other=1; session="+m[1])
			if again.body != r.body {
				t.Fatalf("cookie %s went to %s, then %s", m[1], r.body, again.body)
			}
			if again.header.Get("Set-Cookie") != "" {
				t.Fatalf("a request with the cookie got Set-Cookie %q", again.header.Get("Set-Cookie"))
			}
		}
		owners[r.body] = true
	}
	if len(owners) < 2 {
		t.Errorf("20 cookies all went to %v", owners)
	}
	stickyAndSpread(t, 30, func(k int) string { return h.get("reviews", "/", fmt.Sprintf("Cookie: session=s%d", k)).body })
}

// ttl 0 generates a session cookie (no Max-Age); no ttl generates nothing.
func TestConsistentHashCookieTTL(t *testing.T) {
	for _, tc := range []struct {
		ttl  string
		want string
	}{
		{", ttl: 0s", `^s="[0-9a-f]{16}"; HttpOnly$`},
		{"", `^$`},
		// attributes go after Path and before HttpOnly, a name alone when
		// its value is empty (Envoy's makeSetCookieValue).
		{", path: /, ttl: 5s, attributes: [{name: SameSite, value: Strict}, {name: Secure}]", `^s="[0-9a-f]{16}"; Max-Age=5; Path=/; SameSite=Strict; Secure; HttpOnly$`},
	} {
		h := start(t, experiment(threeEndpoints(t), hashDR("{httpCookie: {name: s"+tc.ttl+"}}")))
		r := h.get("reviews", "/")
		if got := r.header.Get("Set-Cookie"); !regexp.MustCompile(tc.want).MatchString(got) {
			t.Errorf("ttl %q: Set-Cookie %q, want %s", tc.ttl, got, tc.want)
		}
	}
}

// A request without the key gets a random endpoint.
func TestConsistentHashMissingKey(t *testing.T) {
	h := start(t, experiment(threeEndpoints(t), hashDR("{httpHeaderName: x-user}")))
	seen := map[string]bool{}
	for i := 0; i < 60; i++ {
		seen[h.get("reviews", "/").body] = true
	}
	if len(seen) != 3 {
		t.Errorf("keyless requests reached %v, want all 3 endpoints", seen)
	}
}

// An ejected endpoint leaves the ring: its keys move to the others, and
// most keys of the others stay (the ring is rebuilt over the healthy
// endpoints, as Envoy rebuilds it, so a few move).
func TestConsistentHashWithEjection(t *testing.T) {
	h := start(t, experiment(threeEndpoints(t), outlierDR(`    loadBalancer: {consistentHash: {httpHeaderName: x-user}}
    outlierDetection: {consecutive5xxErrors: 1, maxEjectionPercent: 100}
`)), (&fakeClock{}).option())
	const keys = 200
	before := map[int]string{}
	victim := -1
	for k := 0; k < keys; k++ {
		before[k] = h.get("reviews", "/", fmt.Sprintf("x-user: %d", k)).body
		if before[k] == "c" && victim < 0 {
			victim = k
		}
	}
	if victim < 0 {
		t.Fatal("no key reached endpoint c")
	}
	expect(t, h.get("reviews", "/status/500", fmt.Sprintf("x-user: %d", victim)), 500, "")
	stayed, others := 0, 0
	for k := 0; k < keys; k++ {
		got := h.get("reviews", "/", fmt.Sprintf("x-user: %d", k)).body
		switch {
		case got == "c":
			t.Fatalf("key %d still reaches the ejected endpoint", k)
		case before[k] != "c":
			others++
			if got == before[k] {
				stayed++
			}
		}
	}
	if stayed*4 < others*3 {
		t.Errorf("only %d of %d keys on healthy endpoints stayed", stayed, others)
	}
}
