package proxy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"strings"
)

// The SNI of a passed-through TLS connection, read as Envoy's
// tls_inspector listener filter reads it: from the ClientHello, peeked and
// never consumed, so the bytes reach the upstream untouched and the
// handshake runs end to end between client and endpoint.

// maxClientHelloRecord is the largest TLS record a ClientHello is read
// from: a 5-byte header and 2^14 bytes of plaintext.
const maxClientHelloRecord = 5 + 1<<14

// errNotClientHello is a connection whose first bytes are not a TLS
// ClientHello (Envoy's tls_inspector then finds no SNI).
var errNotClientHello = errors.New("proxy: not a TLS ClientHello")

// peekSNI reads the server name of the ClientHello at the head of r
// without consuming it; "" when the hello carries none. r must buffer at
// least maxClientHelloRecord bytes.
func peekSNI(r *bufio.Reader) (string, error) {
	hdr, err := r.Peek(5)
	if err != nil {
		return "", err
	}
	if hdr[0] != 0x16 || hdr[1] != 3 { // handshake record, TLS 1.x
		return "", errNotClientHello
	}
	n := int(binary.BigEndian.Uint16(hdr[3:5]))
	if n == 0 || n > 1<<14 {
		return "", errNotClientHello
	}
	rec, err := r.Peek(5 + n)
	if err != nil {
		return "", err
	}
	return clientHelloSNI(rec[5:])
}

// clientHelloSNI parses a handshake message holding a ClientHello (RFC
// 8446 §4.1.2) and returns its server_name extension's host name (RFC
// 6066 §3).
func clientHelloSNI(b []byte) (string, error) {
	if len(b) < 4 || b[0] != 1 { // client_hello
		return "", errNotClientHello
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	b = b[4:]
	if n > len(b) {
		return "", errNotClientHello // spans records: not handled
	}
	b = b[:n]
	// legacy_version, random
	if len(b) < 34 {
		return "", errNotClientHello
	}
	b = b[34:]
	var ok bool
	if b, ok = skipVector(b, 1); !ok { // legacy_session_id
		return "", errNotClientHello
	}
	if b, ok = skipVector(b, 2); !ok { // cipher_suites
		return "", errNotClientHello
	}
	if b, ok = skipVector(b, 1); !ok { // legacy_compression_methods
		return "", errNotClientHello
	}
	if len(b) == 0 {
		return "", nil // no extensions
	}
	if len(b) < 2 {
		return "", errNotClientHello
	}
	exts := b[2:]
	if l := int(binary.BigEndian.Uint16(b)); l <= len(exts) {
		exts = exts[:l]
	} else {
		return "", errNotClientHello
	}
	for len(exts) >= 4 {
		typ := binary.BigEndian.Uint16(exts)
		l := int(binary.BigEndian.Uint16(exts[2:]))
		exts = exts[4:]
		if l > len(exts) {
			return "", errNotClientHello
		}
		if typ == 0 { // server_name
			return serverName(exts[:l])
		}
		exts = exts[l:]
	}
	return "", nil
}

// serverName returns the host_name entry of a server_name extension.
func serverName(b []byte) (string, error) {
	if len(b) < 2 {
		return "", errNotClientHello
	}
	list := b[2:]
	if l := int(binary.BigEndian.Uint16(b)); l <= len(list) {
		list = list[:l]
	}
	for len(list) >= 3 {
		typ := list[0]
		l := int(binary.BigEndian.Uint16(list[1:]))
		list = list[3:]
		if l > len(list) {
			return "", errNotClientHello
		}
		if typ == 0 { // host_name
			return strings.ToLower(string(list[:l])), nil
		}
		list = list[l:]
	}
	return "", nil
}

// skipVector skips a vector with a lenBytes-byte length prefix.
func skipVector(b []byte, lenBytes int) ([]byte, bool) {
	if len(b) < lenBytes {
		return nil, false
	}
	n := 0
	for i := 0; i < lenBytes; i++ {
		n = n<<8 | int(b[i])
	}
	b = b[lenBytes:]
	if n > len(b) {
		return nil, false
	}
	return b[n:], true
}
