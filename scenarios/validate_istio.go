package scenarios

// Istio's own validation rules (docs/istio.md, Validation; istio/istio
// pkg/config/validation/{validation.go,virtualservice.go,agent/validation.go}),
// applied to the decoded resources. What Istio rejects is an error; what it
// accepts but ignores or deprecates is a warning that says so. The rules of
// each kind live in validate_vs.go, validate_dr.go, validate_gateway.go and
// validate_se.go; this file holds the checks they share.

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// maxRegexLen is the longest regex Istio accepts (it approximates Envoy's
// RE2 program-size limit by length).
const maxRegexLen = 1024

// validateDurationField applies agent.ValidateDuration: a duration Istio
// validates must be at least 1ms and a whole number of milliseconds.
func validateDurationField(r *reporter, path string, d *Duration) {
	if d != nil && !d.wholeMillis() {
		r.errorf(path, "must be at least 1ms and a whole number of milliseconds, not %s", d)
	}
}

// validatePort checks a port number in 1..65535.
func validatePort(r *reporter, path string, n uint32) {
	if n < 1 || n > 65535 {
		r.errorf(path, "port number %d must be in the range 1..65535", n)
	}
}

// validatePercent checks a Percent at path (the "percentage" object): in
// [0, 100] and, when fine is set, not in (0, 0.0001) — Istio converts
// fault percentages to a FractionalPercent of a million, so smaller values
// would silently become 0.
func validatePercent(r *reporter, path string, p *Percent, fine bool) {
	if p == nil {
		return
	}
	switch v := p.Value; {
	case v < 0 || v > 100:
		r.errorf(path+".value", "percentage %v is not in range 0..100", v)
	case fine && v > 0 && v < 0.0001:
		r.errorf(path+".value", "percentage %v is neither 0 nor in range [0.0001, 100]: Istio's resolution is 0.0001 %%", v)
	}
}

// nonNegative reports a negative integer limit.
func nonNegative(r *reporter, path string, n int32) {
	if n < 0 {
		r.errorf(path, "must be >= 0, not %d", n)
	}
}

// oneOf reports a value outside an enum. The empty string is accepted: it
// is the enum's default.
func oneOf(r *reporter, path, value string, allowed ...string) bool {
	if value == "" || slices.Contains(allowed, value) {
		return true
	}
	r.errorf(path, "must be one of %s, not %q", strings.Join(allowed, ", "), value)
	return false
}

// --- regexes and string matches ---

// checkRegex applies Istio's regex rule: non-empty, at most 1024
// characters, and valid RE2 (Go's regexp is RE2).
func checkRegex(re string) error {
	switch {
	case re == "":
		return fmt.Errorf("regex must not be empty")
	case len(re) > maxRegexLen:
		return fmt.Errorf("regex is too large (%d characters), max length allowed is %d", len(re), maxRegexLen)
	}
	if _, err := regexp.Compile(re); err != nil {
		return fmt.Errorf("%v; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)", err)
	}
	return nil
}

// validateRegex reports checkRegex at path.
func validateRegex(r *reporter, path, re string) {
	if err := checkRegex(re); err != nil {
		r.errorf(path, "%v", err)
	}
}

// matchKind says where a StringMatch stands, which decides what an empty
// matcher and an empty prefix mean.
type matchKind int

const (
	// uriMatch is match.uri: an empty prefix is allowed (it matches every path).
	uriMatch matchKind = iota
	// fieldMatch is match.scheme, match.method and match.authority.
	fieldMatch
	// mapMatch is a value of headers, withoutHeaders or queryParams: `{}`
	// and `regex: "*"` are presence matches.
	mapMatch
)

// validateStringMatch checks a StringMatch: at most one of exact, prefix
// and regex (a proto oneof), a non-empty prefix except on uri, and a regex
// that compiles.
func validateStringMatch(r *reporter, path string, sm *StringMatch, kind matchKind) {
	if sm == nil {
		return
	}
	set := 0
	for _, p := range []*string{sm.Exact, sm.Prefix, sm.Regex} {
		if p != nil {
			set++
		}
	}
	switch {
	case set > 1:
		r.errorf(path, "set exactly one of exact, prefix or regex")
		return
	case set == 0 && kind != mapMatch:
		r.warnf(path, "has no exact, prefix or regex, so it matches every request")
		return
	}
	if sm.Prefix != nil && *sm.Prefix == "" && kind != uriMatch {
		r.errorf(path+".prefix", "must not be empty (only uri accepts an empty prefix)")
	}
	if sm.Regex != nil && !(kind == mapMatch && *sm.Regex == "*") {
		validateRegex(r, path+".regex", *sm.Regex)
	}
}

// --- host names ---

var (
	// dns1123Label is Istio's label syntax (labels.IsDNS1123Label), which
	// unlike Kubernetes' also accepts upper case.
	dns1123Label = regexp.MustCompile(`^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$`)
	// wildcardLabel is a first host label: "*", a label, or a label led by
	// "*" or "*-" (labels.IsWildcardDNS1123Label).
	wildcardLabel = regexp.MustCompile(`^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$`)
	// qualifiedName is a Kubernetes label name (or value, when non-empty).
	qualifiedName = regexp.MustCompile(`^(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
)

// isIstioLabel reports a DNS-1123 label as Istio checks it: at most 63
// characters of letters, digits and inner hyphens.
func isIstioLabel(s string) bool {
	return len(s) <= 63 && dns1123Label.MatchString(s)
}

// checkDNSLabels validates dot-separated DNS labels whose top-level label
// is not all digits (agent.ValidateDNS1123Labels); a trailing dot is allowed.
func checkDNSLabels(domain string) error {
	parts := strings.Split(domain, ".")
	if _, err := strconv.Atoi(parts[len(parts)-1]); err == nil {
		return fmt.Errorf("domain name %q invalid (top level domain %q cannot be all-numeric)", domain, parts[len(parts)-1])
	}
	for i, label := range parts {
		if i == len(parts)-1 && label == "" && i > 0 {
			return nil
		}
		if !isIstioLabel(label) {
			return fmt.Errorf("domain name %q invalid (label %q invalid)", domain, label)
		}
	}
	return nil
}

// checkDomainLength applies the length rules common to all host names.
func checkDomainLength(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty domain name not allowed")
	case len(name) > 255:
		return fmt.Errorf("domain name %q too long (max 255)", name)
	}
	return nil
}

// checkFQDN validates a host name without wildcards (a short name such as
// "reviews" is a valid single-label name).
func checkFQDN(name string) error {
	if err := checkDomainLength(name); err != nil {
		return err
	}
	return checkDNSLabels(name)
}

// checkWildcardDomain validates a host name that may carry a wildcard in its
// first label: "reviews", "reviews.default.svc.cluster.local", "*.foo.com", "*".
func checkWildcardDomain(name string) error {
	if err := checkDomainLength(name); err != nil {
		return err
	}
	first, rest, dotted := strings.Cut(name, ".")
	if len(first) > 63 || !wildcardLabel.MatchString(first) {
		return fmt.Errorf("domain name %q invalid (label %q invalid)", name, first)
	}
	if dotted {
		return checkDNSLabels(rest)
	}
	return nil
}

// isPartialWildcard reports a wildcard that is neither "*" nor a "*."
// prefix, such as "*foo.com" (agent.ValidatePartialWildCard).
func isPartialWildcard(host string) bool {
	return strings.Contains(host, "*") && host != "*" && !strings.HasPrefix(host, "*.")
}

// isIP reports an IPv4 or IPv6 address.
func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// hostsOverlap reports whether two host names, possibly wildcards, match a
// common host (host.Name.Matches, which compares case-sensitively):
// "*.foo.com" and "*.com" overlap, so do "*" and anything.
func hostsOverlap(a, b string) bool {
	aw, bw := strings.HasPrefix(a, "*"), strings.HasPrefix(b, "*")
	switch {
	case aw && bw:
		return strings.HasSuffix(a[1:], b[1:]) || strings.HasSuffix(b[1:], a[1:])
	case aw:
		return strings.HasSuffix(b, a[1:])
	case bw:
		return strings.HasSuffix(a, b[1:])
	}
	return a == b
}

// --- labels, namespaces, gateway names ---

// checkLabelKey validates a Kubernetes label key: an optional DNS prefix
// and "/", then a qualified name of at most 63 characters.
func checkLabelKey(k string) error {
	prefix, name, slashed := strings.Cut(k, "/")
	if !slashed {
		prefix, name = "", k
	}
	if slashed {
		if len(prefix) > 253 || checkFQDN(prefix) != nil {
			return fmt.Errorf("invalid label key %q: the prefix must be a DNS name", k)
		}
	}
	if len(name) > 63 || !qualifiedName.MatchString(name) {
		return fmt.Errorf("invalid label key %q: a name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", k)
	}
	return nil
}

// validateLabels checks the keys and values of a label map at path.
// validateSelectorLabels checks a workload selector's labels at path as
// labels, with no wildcard value (Istio refuses one in a selector).
func validateSelectorLabels(r *reporter, path string, labels map[string]string) {
	plain := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if strings.Contains(labels[k], "*") {
			r.errorf(path+"."+k, "wildcard is not supported in selector")
			continue
		}
		plain[k] = labels[k]
	}
	validateLabels(r, path, plain)
}

func validateLabels(r *reporter, path string, labels map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if err := checkLabelKey(k); err != nil {
			r.errorf(path+"."+k, "%v", err)
		}
		if v := labels[k]; v != "" && (len(v) > 63 || !qualifiedName.MatchString(v)) {
			r.errorf(path+"."+k, "invalid label value %q: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", v)
		}
	}
}

// validateExportTo checks an exportTo list: "." (own namespace), "*" (all),
// "~" (nobody; ServiceEntry only) or a namespace, no duplicates, and "*" or
// "~" alone.
func validateExportTo(r *reporter, path string, exportTo []string, namespace string, serviceEntry bool) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	seen := map[string]bool{}
	for i, e := range exportTo {
		p := fmt.Sprintf("%s[%d]", path, i)
		key := e
		if e == "." {
			key = namespace
		}
		switch {
		case seen[key] && key != e:
			r.errorf(p, "duplicate entries in exportTo: . and current namespace %s", namespace)
		case seen[key]:
			r.errorf(p, "duplicate entries in exportTo for entry %s", e)
		case e == "~" && !serviceEntry:
			r.errorf(p, "~ (export to nobody) is only allowed in a ServiceEntry")
		case e != "*" && e != "~" && e != "." && !isIstioLabel(e):
			r.errorf(p, "must be \".\", \"*\" or a namespace name, not %q", e)
		}
		seen[key] = true
		if (e == "*" || e == "~") && len(exportTo) > 1 {
			r.errorf(p, "%s cannot be combined with other exportTo entries", e)
		}
	}
}

// validateGatewayNames checks VirtualService gateway references: "mesh",
// a bare name, "<namespace>/<name>", or the legacy "<name>.<namespace>"
// form, which Istio accepts with a warning.
func validateGatewayNames(r *reporter, path string, names []string) {
	for i, g := range names {
		p := fmt.Sprintf("%s[%d]", path, i)
		if g == MeshGateway {
			continue
		}
		ns, name, slashed := strings.Cut(g, "/")
		if !slashed {
			if parts := strings.Split(g, "."); len(parts) > 1 {
				r.warnf(p, "using legacy gateway name format %q; prefer the <namespace>/<name> format: %q", g, parts[1]+"/"+parts[0])
			}
			if err := checkFQDN(g); err != nil {
				r.errorf(p, "invalid gateway name: %v", err)
			}
			continue
		}
		if ns == "" || name == "" {
			r.errorf(p, "namespace and gateway name cannot be empty in %q", g)
			continue
		}
		if !isIstioLabel(ns) {
			r.errorf(p, "invalid value for namespace: %q", ns)
		}
		if !isIstioLabel(name) {
			r.errorf(p, "invalid value for gateway name: %q", name)
		}
	}
}

// --- protocols ---

// httpProtocols are the protocols Istio routes HTTP on (protocol.IsHTTP).
var httpProtocols = map[string]bool{"HTTP": true, "HTTP2": true, "GRPC": true, "GRPC-WEB": true}

// Protocol kinds: how Faultline carries a port protocol.
const (
	protoHTTP  = "http"  // the HTTP pipeline
	protoTCP   = "tcp"   // Envoy's tcp_proxy: tcp routes, bytes untouched
	protoTLS   = "tls"   // unterminated TLS routed by SNI (tls routes), then as TCP
	protoOther = "other" // known to Istio, not carried by Faultline
)

// protocols are the port protocols Istio knows (protocol.Parse, which is
// case-insensitive), mapped to how Faultline carries them. MONGO, MYSQL
// and REDIS are TCP to Envoy unless a protocol filter is added, which
// istiod does not do by default.
var protocols = map[string]string{
	"HTTP":     protoHTTP,
	"HTTP2":    protoHTTP,
	"GRPC-WEB": protoHTTP,
	"HTTPS":    protoTLS,
	"TLS":      protoTLS,
	"TCP":      protoTCP,
	"MONGO":    protoTCP,
	"REDIS":    protoTCP,
	"MYSQL":    protoTCP,
	"GRPC":     protoHTTP, // over HTTP/1.1: see validateProtocol
	"UDP":      protoOther,
}

// ProtocolKind is how Faultline carries a port protocol: "http", "tcp",
// "tls", or "" for a protocol it does not carry (or does not know). An
// empty protocol is HTTP.
func ProtocolKind(protocol string) string {
	if protocol == "" {
		return protoHTTP
	}
	k := protocols[strings.ToUpper(protocol)]
	if k == protoOther {
		return ""
	}
	return k
}

// validateProtocol checks a port protocol at path: unknown protocols are
// Istio errors, known ones Faultline cannot carry are Faultline errors.
func validateProtocol(r *reporter, path, protocol string) {
	kind, known := protocols[strings.ToUpper(protocol)]
	switch {
	case !known:
		r.errorf(path, "invalid protocol %q, supported protocols are HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP, TLS", protocol)
	case kind == protoOther:
		r.errorf(path, "%s is not implemented by Faultline (it carries HTTP, HTTP2, GRPC and GRPC-WEB as HTTP/1.1, TCP, MONGO, MYSQL and REDIS as TCP, TLS and HTTPS unterminated)", protocol)
	case strings.EqualFold(protocol, "GRPC"):
		r.warnf(path, "GRPC is carried as HTTP/1.1, as HTTP2 is: gRPC-Web and HTTP/1.1 callers pass, a gRPC client (HTTP/2 only) cannot reach the port through Faultline")
	}
}
