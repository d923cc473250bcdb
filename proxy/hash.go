package proxy

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// Consistent-hash load balancing (docs/istio.md, Load balancing): a request
// property is hashed onto the endpoints, so the same key reaches the same
// endpoint while the set of endpoints the balancer picks from is unchanged.
//
// Keys are taken as Envoy takes them (RouteAction.HashPolicy): a header
// (several values are sorted and hashed together), a cookie, a query
// parameter (first value, decoded) or the downstream connection's source IP.
// A request without the key gets a random point on the ring, as Envoy does.
// An absent cookie with a ttl is generated: its value is derived from the
// downstream connection's addresses (Envoy hashes remote and local address),
// it is used for this request's pick and sent back in a Set-Cookie header
// with Max-Age (omitted when the ttl is under a second: a session cookie),
// Path and HttpOnly, formatted like Envoy's makeSetCookieValue.
//
// Faultline's hash is FNV-1a finished with splitmix64 (Envoy uses xxHash64),
// so which endpoint a given key lands on differs from Envoy's; stickiness
// and spread are what matter. ringHash builds Envoy's ring (each endpoint
// at ceil(minimumRingSize/endpoints) points, lookup by the first point ≥
// the key's hash); maglev builds a Maglev lookup table of tableSize
// entries. Both are rebuilt over the hosts left when outlier detection
// ejects or returns one, as Envoy rebuilds its thread-aware balancers.

// hashKind is the request property a consistent hash uses.
type hashKind uint8

const (
	hashHeader hashKind = iota
	hashCookie
	hashQuery
	hashSourceIP
)

// Defaults and limits of Envoy's hash balancers.
const (
	defaultMinRingSize = 1024
	maxRingSize        = 8 << 20
	defaultMaglevSize  = 65537
)

// hashPolicy is a compiled consistentHash block.
type hashPolicy struct {
	kind       hashKind
	header     string // canonical header name, or a pseudo-header (":authority", ":path", ":method")
	cookie     string
	cookiePath string
	cookieTTL  *time.Duration // nil: never generate the cookie
	// cookieAttrs are the generated cookie's attributes, rendered
	// ("; SameSite=Strict; Secure").
	cookieAttrs string
	query       string
	maglev      bool
	size        uint64 // ring minimum size or maglev table size
}

func (b *builder) hashPolicy(blk policyBlock[scenarios.LoadBalancerSettings], ch *scenarios.ConsistentHashLB) *hashPolicy {
	h := &hashPolicy{size: defaultMinRingSize}
	switch {
	case ch.HTTPHeaderName != "":
		h.kind = hashHeader
		switch name := strings.ToLower(ch.HTTPHeaderName); name {
		case ":authority", "host":
			h.header = ":authority"
		case ":path", ":method":
			h.header = name
		default:
			h.header = http.CanonicalHeaderKey(name)
		}
	case ch.HTTPCookie != nil:
		h.kind = hashCookie
		h.cookie, h.cookiePath = ch.HTTPCookie.Name, ch.HTTPCookie.Path
		if ttl := ch.HTTPCookie.TTL; ttl != nil {
			d := max(ttl.D(), 0)
			h.cookieTTL = &d
		}
		for _, a := range ch.HTTPCookie.Attributes {
			h.cookieAttrs += "; " + a.Name
			if a.Value != "" {
				h.cookieAttrs += "=" + a.Value
			}
		}
	case ch.HTTPQueryParameterName != "":
		h.kind = hashQuery
		h.query = ch.HTTPQueryParameterName
	case ch.UseSourceIP:
		h.kind = hashSourceIP
	default:
		b.errorf(blk.label, blk.path+".consistentHash", "set one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName")
	}
	switch {
	case ch.Maglev != nil:
		h.maglev, h.size = true, ch.Maglev.TableSize
		if h.size == 0 {
			h.size = defaultMaglevSize
		}
	case ch.RingHash != nil && ch.RingHash.MinimumRingSize > 0:
		h.size = ch.RingHash.MinimumRingSize
	case ch.MinimumRingSize > 0:
		h.size = ch.MinimumRingSize
	}
	if !h.maglev {
		h.size = min(h.size, maxRingSize)
	}
	return h
}

// key returns the request's hash, or false when the request has no key.
func (h *hashPolicy) key(x *exchange) (uint64, bool) {
	r := x.r
	switch h.kind {
	case hashHeader:
		var vv []string
		switch h.header {
		case ":authority":
			vv = []string{r.Host}
		case ":path":
			vv = []string{x.rawPath}
		case ":method":
			vv = []string{r.Method}
		default:
			vv = r.Header[h.header]
		}
		switch len(vv) {
		case 0:
			return 0, false
		case 1:
			return hash64(vv[0]), true
		}
		sorted := slices.Clone(vv)
		slices.Sort(sorted)
		return hash64(strings.Join(sorted, "\x00")), true
	case hashCookie:
		if x.cookieValue != "" {
			return hash64(x.cookieValue), true // generated for an earlier attempt
		}
		if c, err := r.Cookie(h.cookie); err == nil && c.Value != "" {
			return hash64(c.Value), true
		}
		if h.cookieTTL == nil {
			return 0, false
		}
		x.cookieValue = generatedCookie(r)
		x.setCookie = h.setCookie(x.cookieValue)
		return hash64(x.cookieValue), true
	case hashQuery:
		v, ok := queryValue(x.rawQuery, h.query)
		if !ok {
			return 0, false
		}
		return hash64(v), true
	case hashSourceIP:
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if host == "" {
			return 0, false
		}
		return hash64(host), true
	}
	return 0, false
}

// generatedCookie is the value of a cookie the proxy creates: a hash of the
// downstream connection's remote and local addresses, in 16 hex digits.
func generatedCookie(r *http.Request) string {
	local := ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		local = a.String()
	}
	v := hash64(r.RemoteAddr + local)
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// setCookie renders the Set-Cookie value for a generated cookie.
func (h *hashPolicy) setCookie(value string) string {
	s := h.cookie + `="` + value + `"`
	if secs := int64(*h.cookieTTL / time.Second); secs > 0 {
		s += "; Max-Age=" + strconv.FormatInt(secs, 10)
	}
	if h.cookiePath != "" {
		s += "; Path=" + h.cookiePath
	}
	return s + h.cookieAttrs + "; HttpOnly"
}

// queryValue finds the first value of a query parameter, decoded.
func queryValue(rawQuery, name string) (string, bool) {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != name {
			if dk, err := url.QueryUnescape(k); err != nil || dk != name {
				continue
			}
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		return v, true
	}
	return "", false
}

// hash64 is FNV-1a with a splitmix64 finish (FNV alone spreads short,
// similar keys poorly over a ring).
func hash64(s string) uint64 { return splitmix64(hashString(s)) }

// hashSeeded hashes s under a seed (Maglev's offset and skip hashes).
func hashSeeded(s string, seed uint64) uint64 { return splitmix64(hashString(s) ^ seed*golden) }

// hashRing maps a hash to an endpoint: Envoy's ring hash or Maglev table.
type hashRing struct {
	eps    []*endpoint
	points []ringPoint // ring hash, sorted by hash
	table  []int32     // maglev: endpoint index per slot
}

type ringPoint struct {
	hash uint64
	ep   int32
}

// buildRing builds the ring or table of h over eps (nil when empty).
func (h *hashPolicy) buildRing(eps []*endpoint) *hashRing {
	if len(eps) == 0 {
		return nil
	}
	r := &hashRing{eps: eps}
	if h.maglev {
		r.table = maglevTable(eps, h.size)
		return r
	}
	per := (h.size + uint64(len(eps)) - 1) / uint64(len(eps))
	r.points = make([]ringPoint, 0, per*uint64(len(eps)))
	for i, ep := range eps {
		for j := uint64(0); j < per; j++ {
			r.points = append(r.points, ringPoint{hash: hash64(ep.addr + "_" + strconv.FormatUint(j, 10)), ep: int32(i)})
		}
	}
	slices.SortFunc(r.points, func(a, b ringPoint) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return int(a.ep - b.ep)
	})
	return r
}

// maglevTable populates a Maglev lookup table of size m (a prime) over eps:
// every endpoint walks its own permutation of the slots (offset, skip) and
// takes the next free slot in turn, so each owns about m/len(eps) slots and
// a change of endpoints moves few of them.
func maglevTable(eps []*endpoint, m uint64) []int32 {
	table := make([]int32, m)
	for i := range table {
		table[i] = -1
	}
	offset := make([]uint64, len(eps))
	skip := make([]uint64, len(eps))
	next := make([]uint64, len(eps))
	for i, ep := range eps {
		offset[i] = hashSeeded(ep.addr, 0) % m
		skip[i] = 1
		if m > 1 {
			skip[i] = hashSeeded(ep.addr, 1)%(m-1) + 1
		}
	}
	for filled := uint64(0); ; {
		for i := range eps {
			c := (offset[i] + next[i]*skip[i]) % m
			for table[c] >= 0 {
				next[i]++
				c = (offset[i] + next[i]*skip[i]) % m
			}
			table[c] = int32(i)
			next[i]++
			if filled++; filled == m {
				return table
			}
		}
	}
}

// get returns the endpoint owning hash.
func (r *hashRing) get(hash uint64) *endpoint {
	if r.table != nil {
		return r.eps[r.table[hash%uint64(len(r.table))]]
	}
	i, _ := slices.BinarySearchFunc(r.points, hash, func(p ringPoint, h uint64) int {
		switch {
		case p.hash < h:
			return -1
		case p.hash > h:
			return 1
		}
		return 0
	})
	if i == len(r.points) {
		i = 0 // wrap around the ring
	}
	return r.eps[r.points[i].ep]
}

// consistentHash is the picker of a cluster with a consistentHash policy.
type consistentHash struct{ h *hashPolicy }

func (c consistentHash) pick(hs *hostSet, x *exchange, g *rng) *endpoint {
	var key uint64
	ok := false
	if x != nil {
		key, ok = c.h.key(x)
	}
	if !ok {
		key = g.next()
	}
	return hs.ring.get(key)
}

// Interface guards.
var _ picker = consistentHash{}
