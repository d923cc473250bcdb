// Package httpfield holds the small HTTP/1.1 field rules the proxy's
// client and its inbound server share, written so as not to allocate.
package httpfield

import "net/textproto"

// HasToken reports whether v holds token, delimited by spaces, commas or
// tabs, case-insensitively. It is net/http's own rule (for Connection and
// Expect), looser than httpguts.HeaderValuesContainsToken: a space
// separates tokens too.
func HasToken(v, token string) bool {
	if len(token) > len(v) || token == "" {
		return false
	}
	if v == token {
		return true
	}
	for sp := 0; sp <= len(v)-len(token); sp++ {
		if b := v[sp]; b != token[0] && b|0x20 != token[0] {
			continue
		}
		if sp > 0 && !tokenBoundary(v[sp-1]) {
			continue
		}
		if end := sp + len(token); end != len(v) && !tokenBoundary(v[end]) {
			continue
		}
		if EqualFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

func tokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

// EqualFold reports whether a and b are equal ignoring ASCII case.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// CanonicalKey is a field name in canonical form; s holds token bytes
// only. An already canonical name is returned as is (no allocation).
func CanonicalKey(s string) string {
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return textproto.CanonicalMIMEHeaderKey(s)
		}
		upper = c == '-'
	}
	return s
}

// IsValueByte tells the bytes of a field value: visible characters,
// space, tab and obs-text (httpguts.ValidHeaderFieldValue byte by byte,
// without turning a line into a string).
func IsValueByte(c byte) bool { return valueByte[c] }

var valueByte = func() (value [256]bool) {
	for c := 0; c < 256; c++ {
		value[c] = c >= 0x21 && c != 0x7f || c == ' ' || c == '\t'
	}
	return value
}()
