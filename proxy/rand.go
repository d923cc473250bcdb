package proxy

// Every random decision of a request (fault delay, fault abort, weighted
// destination, RANDOM and LEAST_REQUEST endpoint picks, retry back-off,
// the mirror draw) comes from a small generator seeded from Options.Seed,
// the listener and the request's sequence number on that listener.
// Re-running the same experiment with the same seed and the same request
// order therefore draws the same values, and nothing on the hot path
// shares a locked source.

const (
	golden = 0x9e3779b97f4a7c15 // 2^64 / φ, the splitmix64 increment
)

// splitmix64 is Steele, Lea and Flood's finaliser: a bijective mix of x.
func splitmix64(x uint64) uint64 {
	x += golden
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// rng is a per-request splitmix64 stream. The zero value is usable.
type rng struct{ state uint64 }

// newRequestRNG derives the stream of request seq on a listener.
func newRequestRNG(seed, listenerSalt, seq uint64) rng {
	return rng{state: splitmix64(seed ^ listenerSalt ^ seq*golden)}
}

// next returns the next 64 random bits.
func (r *rng) next() uint64 {
	r.state += golden
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// below returns a value in [0, n) (n > 0), as Envoy does: random % n.
func (r *rng) below(n uint64) uint64 { return r.next() % n }

// fractionDenominator is Envoy's FractionalPercent MILLION denominator,
// which istiod uses for fault and mirror percentages.
const fractionDenominator = 1_000_000

// percentNumerator converts an Istio percentage to Envoy's numerator over a
// million, truncating as istiod does (uint32(value*10000)).
func percentNumerator(value float64) uint64 {
	if value <= 0 {
		return 0
	}
	if value >= 100 {
		return fractionDenominator
	}
	return uint64(uint32(value * 10000))
}

// hit reports whether a draw selects a numerator/1e6 fraction
// (Envoy evaluateFractionalPercent: random % denominator < numerator).
func (r *rng) hit(numerator uint64) bool {
	if numerator == 0 {
		return false // no draw consumed for a disabled fault: keep it cheap
	}
	return r.next()%fractionDenominator < numerator
}

// hashString is FNV-1a, used to salt the per-listener streams.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

const hexDigits = "0123456789abcdef"

// formatUUID renders two random words as a version-4, variant-1 UUID
// (the shape Envoy gives x-request-id).
func formatUUID(hi, lo uint64) string {
	var b [36]byte
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4 in bits 12..15 of the third group
	lo = lo&^(0x3<<62) | 0x2<<62 // variant 10xx
	words := [16]byte{}
	for i := 0; i < 8; i++ {
		words[i] = byte(hi >> (56 - 8*i))
		words[8+i] = byte(lo >> (56 - 8*i))
	}
	j := 0
	for i, w := range words {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j] = hexDigits[w>>4]
		b[j+1] = hexDigits[w&0xf]
		j += 2
	}
	return string(b[:])
}
