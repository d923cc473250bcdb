package proxy

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// Envoy's domain search order: exact, longest suffix wildcard, longest
// prefix wildcard, then "*"; wildcards never match the empty string.
func TestSelectVhostOrder(t *testing.T) {
	lt := &listenerTable{exact: map[string]*vhost{}}
	named := map[string]*vhost{}
	for _, d := range []string{"a.foo.com", "*.foo.com", "*.b.foo.com", "foo.*", "foo.bar.*", "*"} {
		named[d] = &vhost{name: d}
		lt.addDomain(d, named[d])
	}
	cases := []struct{ host, want string }{
		{"a.foo.com", "a.foo.com"},
		{"x.foo.com", "*.foo.com"},
		{"x.b.foo.com", "*.b.foo.com"}, // the longest suffix wins
		{".foo.com", "*"},              // wildcards need a non-empty match
		{"foo.org", "foo.*"},
		{"foo.bar.org", "foo.bar.*"},
		{"x.foo.bar", "*"},
		{"elsewhere", "*"},
	}
	for _, tc := range cases {
		if got := lt.selectVhost(tc.host); got == nil || got.name != tc.want {
			t.Errorf("%s: got %v, want %s", tc.host, got, tc.want)
		}
	}
	if lt.addDomain("A.FOO.COM", &vhost{}) {
		t.Error("a domain is claimed twice (case-insensitively)")
	}
}

func TestIntersectHosts(t *testing.T) {
	cases := []struct{ server, vs, want string }{
		{"*.foo.com", "a.foo.com", "a.foo.com"},
		{"a.foo.com", "*", "a.foo.com"},
		{"*", "a.foo.com", "a.foo.com"},
		{"*.example.com", "example.com", ""},
		{"*.foo.com", "*.bar.foo.com", "*.bar.foo.com"},
		{"a.foo.com", "b.foo.com", ""},
		{"a.foo.com", "*.foo.com", "a.foo.com"},
	}
	for _, tc := range cases {
		if got := intersectHosts(tc.server, tc.vs); got != tc.want {
			t.Errorf("%s ∩ %s = %q, want %q", tc.server, tc.vs, got, tc.want)
		}
	}
}

func TestRandomness(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, w := range [][2]uint64{{0, 0}, {^uint64(0), ^uint64(0)}, {0x0123456789abcdef, 0xfedcba9876543210}} {
		if u := formatUUID(w[0], w[1]); !re.MatchString(u) {
			t.Errorf("formatUUID(%x, %x) = %s", w[0], w[1], u)
		}
	}
	for _, tc := range []struct {
		pct  float64
		want uint64
	}{{0, 0}, {100, 1_000_000}, {50, 500_000}, {0.0001, 1}, {0.1, 1000}, {120, 1_000_000}} {
		if got := percentNumerator(tc.pct); got != tc.want {
			t.Errorf("percentNumerator(%v) = %d, want %d", tc.pct, got, tc.want)
		}
	}
	a, b := newRequestRNG(1, 2, 3), newRequestRNG(1, 2, 3)
	for i := 0; i < 10; i++ {
		if a.next() != b.next() {
			t.Fatal("same seed, listener and sequence draw differently")
		}
	}
	if c, d := newRequestRNG(1, 2, 3), newRequestRNG(1, 2, 4); c.next() == d.next() {
		t.Error("consecutive requests draw the same value")
	}
}

func TestFlagsRender(t *testing.T) {
	for _, tc := range []struct {
		f    flag
		want string
	}{{0, "-"}, {flagDI | flagFI, "DI,FI"}, {flagURX | flagUF, "UF,URX"}, {flagNR, "NR"}, {flagDC | flagUT, "UT,DC"}} {
		if got := string(appendFlags(nil, tc.f)); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

// The snapshot's top level is the run report's "proxy" block.
func TestStatsJSONShape(t *testing.T) {
	r := newRegistry()
	r.cluster("outbound|80||a").codes[200].Add(2)
	r.cluster("outbound|80||a").rqTotal.Add(2)
	r.countFlags(flagUO | flagDI)
	b, err := json.Marshal(r.snapshot())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"upstreamRequests":2`, `"retries":0`, `"timeouts":0`, `"overflows":0`, `"ejections":0`,
		`"faultsDelayed":0`, `"faultsAborted":0`, `"mirrored":0`, `"byFlag":{"DI":1,"UO":1}`, `"upstream_rq_200":2`, `"upstream_rq_2xx":2`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("%s lacks %s", b, key)
		}
	}
}
