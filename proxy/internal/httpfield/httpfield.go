// Package httpfield holds the small HTTP/1.1 field rules the proxy's
// client and its inbound server share, written so as not to allocate.
package httpfield

import (
	"bytes"
	"net/http"
	"net/textproto"
	"strings"

	"golang.org/x/net/http/httpguts"
)

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

// PlainFields checks the field lines of a head whole in b (which ends
// with its blank line), from offset from: CRLF line ends, no obs-fold,
// token names and valid values. It returns how many lines there are; ok
// is false when one is not plain (the caller then leaves the head to
// net/http's parser).
func PlainFields(b []byte, from int) (lines int, ok bool) {
	end := len(b)
	for pos := from; pos < end-2; lines++ {
		e := pos + bytes.IndexByte(b[pos:], '\n')
		if e-1 <= pos || b[e-1] != '\r' || b[pos] == ' ' || b[pos] == '\t' {
			return 0, false // bare LF, obs-fold
		}
		line := b[pos : e-1]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, false
		}
		for _, c := range line[:colon] {
			if !httpguts.IsTokenRune(rune(c)) {
				return 0, false
			}
		}
		for _, c := range line[colon+1:] {
			if !valueByte[c] {
				return 0, false
			}
		}
		pos = e + 1
	}
	return lines, true
}

// ReadFields adds to h the field lines of a head PlainFields accepted,
// given as one string s, from offset from: canonical names, values
// trimmed of spaces and tabs. The values are substrings of s, and their
// slices share one backing array of lines elements: two allocations for
// the whole head (s aside).
func ReadFields(h http.Header, s string, from, lines int) {
	strs := make([]string, lines)
	end := len(s)
	for pos := from; pos < end-2; {
		e := pos + strings.IndexByte(s[pos:], '\n')
		colon := pos + strings.IndexByte(s[pos:e], ':')
		vs, ve := colon+1, e-1
		for vs < ve && (s[vs] == ' ' || s[vs] == '\t') {
			vs++
		}
		for ve > vs && (s[ve-1] == ' ' || s[ve-1] == '\t') {
			ve--
		}
		key := CanonicalKey(s[pos:colon])
		if vv, ok := h[key]; ok {
			h[key] = append(vv, s[vs:ve])
		} else {
			vv, strs = strs[:1:1], strs[1:]
			vv[0] = s[vs:ve]
			h[key] = vv
		}
		pos = e + 1
	}
}
