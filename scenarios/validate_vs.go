package scenarios

// VirtualService rules (docs/istio.md, VirtualService; istio/istio
// pkg/config/validation/validation.go ValidateVirtualService and
// virtualservice.go validateHTTPRoute).

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// retryOnPolicies are the retryOn tokens Istio accepts besides HTTP status
// codes (Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on policies).
var retryOnPolicies = map[string]bool{
	"5xx": true, "gateway-error": true, "reset": true, "reset-before-request": true,
	"connect-failure": true, "retriable-4xx": true, "refused-stream": true,
	"retriable-status-codes": true, "retriable-headers": true, "envoy-ratelimited": true,
	"http3-post-connect-failure": true,
	"cancelled":                  true, "deadline-exceeded": true, "internal": true,
	"resource-exhausted": true, "unavailable": true,
}

// RetryOnPolicies returns the retryOn policy names Istio accepts besides
// HTTP status codes, in order. The proxy gives each its behaviour and a
// test of its own keeps the two lists the same.
func RetryOnPolicies() []string { return slices.Sorted(maps.Keys(retryOnPolicies)) }

// redirectCodes are the redirect statuses istiod programs; other 3xx codes
// pass Istio's validation but produce a route without an action.
var redirectCodes = map[uint32]bool{0: true, 301: true, 302: true, 303: true, 307: true, 308: true}

// matchHeaderName is Istio's syntax for header match keys.
var matchHeaderName = regexp.MustCompile(`^[-_A-Za-z0-9]+$`)

// jwtClaimPrefix marks a header match on a JWT claim (gateway routing only).
const jwtClaimPrefix = "@request.auth.claims"

const (
	// MaxDirectResponseBody is Istio's limit on a directResponse body, in
	// bytes (after base64 decoding): a larger one is rejected.
	MaxDirectResponseBody = 1 << 20
	directResponseWarn    = 100 << 10 // bodies above 100 KB are warned about
)

// validateVirtualService applies Istio's VirtualService rules
// (docs/istio.md, VirtualService).
func validateVirtualService(r *reporter, vs *VirtualService, v IstioVersion) {
	s := &vs.Spec
	mesh := appliesToMesh(s.Gateways)
	validateGatewayNames(r, "spec.gateways", s.Gateways)
	if vs.IsDelegate() {
		validateDelegateVirtualService(r, s)
	} else {
		validateVirtualServiceHosts(r, s.Hosts, mesh, vs.Metadata.Namespace)
	}
	if len(s.HTTP) == 0 && len(s.TCP) == 0 && len(s.TLS) == 0 {
		r.errorf("spec.http", "http, tcp or tls must be provided in a VirtualService")
	}
	for i := range s.HTTP {
		p := fmt.Sprintf("spec.http[%d]", i)
		validateHTTPRoute(r, p, &s.HTTP[i], mesh, v)
		if d := s.HTTP[i].Delegate; d != nil {
			validateDelegateRef(r, p+".delegate", d, vs.IsDelegate())
		}
	}
	for i := range s.TCP {
		validateTCPRoute(r, fmt.Sprintf("spec.tcp[%d]", i), &s.TCP[i], v)
	}
	for i := range s.TLS {
		validateTLSRoute(r, fmt.Sprintf("spec.tls[%d]", i), &s.TLS[i], s.Hosts, v)
	}
	validateExportTo(r, "spec.exportTo", s.ExportTo, vs.Metadata.Namespace, false)
	warnUnreachableRules(r, s.HTTP)
}

// appliesToMesh reports whether a VirtualService with these gateways binds
// to the sidecars: no gateways, or "mesh" among them.
func appliesToMesh(gateways []string) bool {
	return len(gateways) == 0 || slices.Contains(gateways, MeshGateway)
}

// validateVirtualServiceHosts checks spec.hosts: present, each a host name
// (FQDN, short name, "*.suffix") or an IP, "*" only for gateway-bound
// services, and no two overlapping.
func validateVirtualServiceHosts(r *reporter, hosts []string, mesh bool, namespace string) {
	valid := true
	for i, h := range hosts {
		p := fmt.Sprintf("spec.hosts[%d]", i)
		if err := checkWildcardDomain(h); err != nil {
			if !isIP(h) {
				r.errorf(p, "%v", err)
				valid = false
			}
		} else if mesh && h == "*" {
			r.errorf(p, "wildcard host * is not allowed for virtual services bound to the mesh gateway")
			valid = false
		}
	}
	if !valid {
		return
	}
	for j := range hosts {
		for i := range j {
			switch {
			case hostsOverlap(hosts[i], hosts[j]):
				r.errorf(fmt.Sprintf("spec.hosts[%d]", j), "duplicate hosts in virtual service: %s & %s", hosts[i], hosts[j])
			case FQDN(hosts[i], namespace) == FQDN(hosts[j], namespace):
				r.warnf(fmt.Sprintf("spec.hosts[%d]", j), "%s and %s name the same service (host names are case-insensitive and short names expand with the namespace)", hosts[i], hosts[j])
			}
		}
	}
}

// validateHTTPRoute checks one http rule at p.
func validateHTTPRoute(r *reporter, p string, h *HTTPRoute, mesh bool, v IstioVersion) {
	validateRouteAction(r, p, h)
	for j := range h.Match {
		validateMatch(r, fmt.Sprintf("%s.match[%d]", p, j), &h.Match[j], mesh)
	}
	validateRouteDestinations(r, p+".route", h.Route, v)
	if h.Redirect != nil {
		validateRedirect(r, p+".redirect", h.Redirect, h.Match)
	}
	if h.DirectResponse != nil {
		validateDirectResponse(r, p+".directResponse", h.DirectResponse)
	}
	if h.Rewrite != nil {
		validateRewrite(r, p+".rewrite", h.Rewrite)
	}
	validateHeaderOps(r, p+".headers", h.Headers)
	validateAuthorityOnce(r, p, h)
	validateDurationField(r, p+".timeout", h.Timeout)
	if h.Retries != nil {
		validateRetries(r, p+".retries", h.Retries, h.Timeout, v)
	}
	if h.Fault != nil {
		validateFault(r, p+".fault", h.Fault)
	}
	validateMirrors(r, p, h)
	if h.CorsPolicy != nil {
		validateCORSPolicy(r, p+".corsPolicy", h.CorsPolicy)
	}
}

// validateRouteAction requires exactly one action and rejects the field
// combinations Istio rejects (docs/istio.md, Rule order).
func validateRouteAction(r *reporter, p string, h *HTTPRoute) {
	has := map[string]bool{
		"route":          len(h.Route) > 0,
		"redirect":       h.Redirect != nil,
		"directResponse": h.DirectResponse != nil,
		"delegate":       h.Delegate != nil,
		"fault":          h.Fault != nil,
		"rewrite":        h.Rewrite != nil,
		"mirror":         h.Mirror != nil,
		"mirrors":        len(h.Mirrors) > 0,
	}
	if !has["route"] && !has["redirect"] && !has["directResponse"] && !has["delegate"] {
		r.errorf(p, "needs exactly one of route, redirect, directResponse or delegate")
		return
	}
	for _, c := range [][2]string{
		{"route", "redirect"}, {"fault", "redirect"}, {"rewrite", "redirect"},
		{"route", "directResponse"}, {"fault", "directResponse"}, {"rewrite", "directResponse"},
		{"redirect", "directResponse"},
		{"route", "delegate"}, {"redirect", "delegate"}, {"directResponse", "delegate"},
		{"mirror", "mirrors"},
	} {
		if has[c[0]] && has[c[1]] {
			r.errorf(p+"."+c[1], "an HTTP route cannot contain both %s and %s", c[0], c[1])
		}
	}
}

// --- match ---

// validateMatch checks one HTTPMatchRequest at p.
func validateMatch(r *reporter, p string, m *HTTPMatchRequest, mesh bool) {
	if isEmptyMatch(m) {
		r.warnf(p, "is empty: Istio's API says an HTTPMatchRequest cannot be empty; Istio accepts it and it matches every request")
	}
	validateStringMatch(r, p+".uri", m.URI, uriMatch)
	validateStringMatch(r, p+".scheme", m.Scheme, fieldMatch)
	validateStringMatch(r, p+".method", m.Method, fieldMatch)
	validateStringMatch(r, p+".authority", m.Authority, fieldMatch)
	validateHeaderMatches(r, p+".headers", m.Headers, mesh)
	validateHeaderMatches(r, p+".withoutHeaders", m.WithoutHeaders, mesh)
	for _, k := range slices.Sorted(maps.Keys(m.QueryParams)) {
		sm := m.QueryParams[k]
		if k == "" {
			r.errorf(p+".queryParams.", "query parameter name cannot be empty")
		}
		validateStringMatch(r, p+".queryParams."+k, &sm, mapMatch)
	}
	if m.Port != 0 {
		validatePort(r, p+".port", m.Port)
	}
	if len(m.SourceLabels) > 0 {
		validateLabels(r, p+".sourceLabels", m.SourceLabels)
		r.warnf(p+".sourceLabels", "%s", sourceLabelsNote)
	}
	if m.SourceNamespace != "" {
		if !isIstioLabel(m.SourceNamespace) {
			r.errorf(p+".sourceNamespace", "sourceNamespace match %s is invalid: must be a DNS-1123 label", m.SourceNamespace)
		}
		r.errorf(p+".sourceNamespace", "not implemented by Faultline: there are no client workloads in namespaces")
	}
	validateGatewayNames(r, p+".gateways", m.Gateways)
}

// sourceLabelsNote says whose labels an http match's sourceLabels meet
// (proxy/source_labels.go).
const sourceLabelsNote = "Faultline knows a request's caller only on a gateway (its labels: the Gateway's selector) or when the request comes from the address of a bound service's endpoint other than 127.0.0.1 and ::1 (that endpoint's labels); any other caller, a run's own load among them, is unlabelled, so this match does not apply to it"

// isEmptyMatch reports a match block with no condition at all.
func isEmptyMatch(m *HTTPMatchRequest) bool {
	return m.URI == nil && onlyURI(m)
}

// validateHeaderMatches checks a headers or withoutHeaders map at p.
func validateHeaderMatches(r *reporter, p string, headers map[string]StringMatch, mesh bool) {
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		kp := p + "." + k
		sm := headers[k]
		switch {
		case strings.HasPrefix(k, jwtClaimPrefix) && mesh:
			r.errorf(kp, "JWT claim based routing (key: %s) is only supported for gateways, and this VirtualService binds to the mesh", k)
		case strings.HasPrefix(k, jwtClaimPrefix):
			r.errorf(kp, "JWT claim based routing is not implemented by Faultline")
		case k == "":
			r.errorf(p+".", "header name cannot be empty")
		case !matchHeaderName.MatchString(k):
			r.errorf(kp, "header name %s is not a valid header name (letters, digits, '-' and '_')", k)
		case k == "uri" || k == "scheme" || k == "method" || k == "authority":
			r.warnf(kp, "is ignored by Istio: use the match's own %s field", k)
		case strings.ToLower(k) != k:
			r.warnf(kp, "header names in a match should be lowercase; Envoy compares header names case-insensitively, so it matches %s", strings.ToLower(k))
		}
		validateStringMatch(r, kp, &sm, mapMatch)
	}
}

// --- destinations ---

// validateDestination checks a destination (route, mirror) at p: a host
// other than "*", a DNS-1123 subset name, and a port in range.
func validateDestination(r *reporter, p string, d *Destination) {
	switch {
	case d.Host == "":
		r.errorf(p+".host", "is required")
	case d.Host == "*":
		r.errorf(p+".host", "invalid destination host *: name one service")
	default:
		if err := checkWildcardDomain(d.Host); err != nil {
			r.errorf(p+".host", "%v", err)
		}
	}
	if d.Subset != "" && !isIstioLabel(d.Subset) {
		r.errorf(p+".subset", "subset name is invalid: %s (must be a DNS-1123 label)", d.Subset)
	}
	if d.Port != nil {
		validatePort(r, p+".port.number", d.Port.Number)
	}
}

// validateRouteDestinations checks the weighted destinations of a rule.
func validateRouteDestinations(r *reporter, p string, dests []HTTPRouteDestination, v IstioVersion) {
	var total int64
	for j := range dests {
		d := &dests[j]
		dp := fmt.Sprintf("%s[%d]", p, j)
		validateDestination(r, dp+".destination", &d.Destination)
		if d.Weight < 0 {
			r.errorf(dp+".weight", "weight %d < 0", d.Weight)
		}
		total += int64(d.Weight)
		validateHeaderOps(r, dp+".headers", d.Headers)
	}
	if len(dests) < 2 {
		return
	}
	switch {
	case total == 0:
		r.errorf(p, "total destination weight = 0: give at least one destination a positive weight")
	case v.Defaults().WeightsMustSumTo100 && total != 100:
		r.errorf(p, "total destination weight %d != 100: Istio %s requires the weights to sum to 100 (relative weights are accepted since 1.15)", total, v)
	}
}

// --- rewrite, redirect, direct response ---

// validateRewrite checks a rewrite block at p.
func validateRewrite(r *reporter, p string, rw *HTTPRewrite) {
	if rw.URI == "" && rw.URIRegexRewrite == nil && rw.Authority == "" {
		r.errorf(p, "rewrite must specify at least one of uri, uriRegexRewrite or authority")
	}
	rr := rw.URIRegexRewrite
	if rr == nil {
		return
	}
	if rw.URI != "" {
		r.errorf(p+".uriRegexRewrite", "rewrite may only contain one of uri or uriRegexRewrite")
	}
	if rr.Match == "" {
		r.errorf(p+".uriRegexRewrite.match", "is required")
	} else {
		validateRegex(r, p+".uriRegexRewrite.match", rr.Match)
	}
	if rr.Rewrite == "" {
		r.errorf(p+".uriRegexRewrite.rewrite", "is required")
	}
}

// validateAuthorityOnce rejects an authority set in more than one place:
// rewrite.authority and a host or :authority key of headers.request.set or
// .add (validateAuthorityRewrite).
func validateAuthorityOnce(r *reporter, p string, h *HTTPRoute) {
	var first string
	if h.Rewrite != nil && h.Rewrite.Authority != "" {
		first = p + ".rewrite.authority"
	}
	if h.Headers == nil || h.Headers.Request == nil {
		return
	}
	ops := h.Headers.Request
	for _, op := range []struct {
		name string
		m    map[string]string
	}{{"set", ops.Set}, {"add", ops.Add}} {
		for _, k := range slices.Sorted(maps.Keys(op.m)) {
			if !isAuthorityHeader(k) {
				continue
			}
			kp := p + ".headers.request." + op.name + "." + k
			if first != "" {
				r.errorf(kp, "authority header cannot be set multiple times: already set by %s", first)
				continue
			}
			first = kp
		}
	}
}

// validateRedirect checks a redirect at p; matches are the rule's match
// blocks, which prefixRewrite needs to be uri prefixes.
func validateRedirect(r *reporter, p string, rd *HTTPRedirect, matches []HTTPMatchRequest) {
	if rd.URI == "" && rd.PrefixRewrite == "" && rd.Authority == "" && rd.Port == 0 && rd.DerivePort == "" && rd.Scheme == "" {
		r.errorf(p, "redirect must specify uri, prefixRewrite, authority, scheme, port or derivePort")
	}
	if !redirectCodes[rd.RedirectCode] {
		r.errorf(p+".redirectCode", "%d is not a valid redirect code: must be 301, 302, 303, 307 or 308", rd.RedirectCode)
	}
	if rd.Scheme != "" && rd.Scheme != "http" && rd.Scheme != "https" {
		r.errorf(p+".scheme", `invalid redirect scheme %q, must be "http" or "https"`, rd.Scheme)
	}
	if rd.Port != 0 {
		validatePort(r, p+".port", rd.Port)
		if rd.DerivePort != "" {
			r.errorf(p+".derivePort", "cannot be combined with port")
		}
	}
	oneOf(r, p+".derivePort", rd.DerivePort, "FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT")
	if rd.URI != "" && rd.PrefixRewrite != "" {
		r.errorf(p+".prefixRewrite", "cannot be combined with uri")
	}
	if rd.PrefixRewrite == "" {
		return
	}
	for j, m := range matches {
		if m.URI != nil && (m.URI.Exact != nil || m.URI.Regex != nil) {
			r.errorf(p+".prefixRewrite", "needs every uri match of the rule to be a prefix match, but match[%d].uri is not", j)
		}
	}
}

// validateDirectResponse checks a direct response at p.
func validateDirectResponse(r *reporter, p string, dr *HTTPDirectResponse) {
	if dr.Status < 200 || dr.Status > 599 {
		r.errorf(p+".status", "HTTP status %d is not in range 200-599", dr.Status)
	}
	b := dr.Body
	if b == nil {
		return
	}
	if b.String != nil && b.Bytes != nil {
		r.errorf(p+".body", "set string or bytes, not both")
		return
	}
	size := 0
	switch {
	case b.String != nil:
		size = len(*b.String)
	case b.Bytes != nil:
		raw, err := base64.StdEncoding.DecodeString(*b.Bytes)
		if err != nil {
			r.errorf(p+".body.bytes", "must be base64: %v", err)
			return
		}
		size = len(raw)
	}
	switch {
	case size > MaxDirectResponseBody:
		r.errorf(p+".body", "large direct_responses may impact control plane performance, must be less than 1MB (this one is %d bytes)", size)
	case size > directResponseWarn:
		r.warnf(p+".body", "large direct_responses may impact control plane performance (%d bytes, over 100KB)", size)
	}
}

// --- header operations ---

// isAuthorityHeader reports the keys that set the authority.
func isAuthorityHeader(k string) bool {
	return strings.EqualFold(k, "host") || strings.EqualFold(k, ":authority")
}

// validateHeaderOps checks a Headers block at p (route or destination level).
func validateHeaderOps(r *reporter, p string, h *Headers) {
	if h == nil {
		return
	}
	if h.Request != nil {
		validateHeaderOperations(r, p+".request", h.Request, true)
	}
	if h.Response != nil {
		validateHeaderOperations(r, p+".response", h.Response, false)
	}
}

// validateHeaderOperations checks set, add and remove. Pseudo-headers and
// Host may not be touched, except that a request set/add of host or
// :authority rewrites the authority.
func validateHeaderOperations(r *reporter, p string, ops *HeaderOperations, request bool) {
	for _, op := range []struct {
		name string
		m    map[string]string
	}{{"set", ops.Set}, {"add", ops.Add}} {
		for _, k := range slices.Sorted(maps.Keys(op.m)) {
			kp := p + "." + op.name + "." + k
			if !(request && isAuthorityHeader(k)) {
				validateHeaderOpName(r, kp, k)
			}
			if err := checkHeaderValue(op.m[k]); err != nil {
				r.errorf(kp, "header value configuration %q is invalid: %v", op.m[k], err)
			}
		}
	}
	for i, k := range ops.Remove {
		validateHeaderOpName(r, fmt.Sprintf("%s.remove[%d]", p, i), k)
	}
}

// validateHeaderOpName checks a header name an operation sets, adds or
// removes (ValidateHTTPHeaderOperationName).
func validateHeaderOpName(r *reporter, path, name string) {
	switch {
	case name == "":
		r.errorf(path, "header name cannot be empty")
	case strings.EqualFold(name, "host"):
		r.errorf(path, "invalid header %q: cannot set or remove the Host header here (set host in headers.request.set or use rewrite.authority)", name)
	case strings.HasPrefix(name, ":"):
		r.errorf(path, "invalid header %q: header cannot have \":\" prefix", name)
	case !httpguts.ValidHeaderFieldName(name):
		r.errorf(path, "invalid header %q: not a valid HTTP header name", name)
	}
}

// checkHeaderValue validates a header value for Envoy: no control
// characters, and every %VARIABLE% or %VARIABLE(args)% formatter closed
// ("%%" is a literal percent).
func checkHeaderValue(v string) error {
	if !httpguts.ValidHeaderFieldValue(v) {
		return fmt.Errorf("contains a control character")
	}
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			continue
		}
		if i+1 < len(v) && v[i+1] == '%' {
			i++
			continue
		}
		end := formatterEnd(v, i+1)
		if end < 0 {
			return fmt.Errorf("un-terminated %% expression (write %%%% for a literal percent sign)")
		}
		i = end
	}
	return nil
}

// formatterEnd returns the index of the '%' closing a formatter whose
// name starts at i, or -1. Arguments in parentheses may hold quoted
// strings with backslash escapes; spaces may follow the ')'.
func formatterEnd(v string, i int) int {
	j := strings.IndexAny(v[i:], "%(")
	if j < 0 {
		return -1
	}
	if i += j; v[i] == '%' {
		return i
	}
	quoted := false
	for i++; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\':
			i++ // skip the escaped character
		case c == '"':
			quoted = !quoted
		case !quoted && c == ')':
			rest := strings.TrimLeft(v[i+1:], " ")
			if strings.HasPrefix(rest, "%") {
				return len(v) - len(rest)
			}
			return -1
		}
	}
	return -1
}

// --- retries, fault, mirror ---

// validateRetries checks a retry policy at p; timeout is the rule's route
// timeout, which a per-try timeout must stay below to have any effect.
func validateRetries(r *reporter, p string, rt *HTTPRetry, timeout *Duration, v IstioVersion) {
	if rt.Attempts < 0 {
		r.errorf(p+".attempts", "attempts cannot be negative")
	}
	if rt.Attempts == 0 {
		var set []string
		if rt.PerTryTimeout != nil {
			set = append(set, "perTryTimeout")
		}
		if rt.RetryOn != "" {
			set = append(set, "retryOn")
		}
		if rt.RetryRemoteLocalities != nil {
			set = append(set, "retryRemoteLocalities")
		}
		if len(set) > 0 {
			r.errorf(p+".attempts", "is 0, which disables retries, but %s is set: http retry policy configured when attempts are set to 0", strings.Join(set, ", "))
		}
	}
	if rt.PerTryTimeout != nil {
		validateDurationField(r, p+".perTryTimeout", rt.PerTryTimeout)
		if timeout != nil && *timeout > 0 && *rt.PerTryTimeout >= *timeout {
			r.warnf(p+".perTryTimeout", "%s is not shorter than the route timeout %s: Envoy ignores it", rt.PerTryTimeout, timeout)
		}
	}
	if rt.RetryOn != "" {
		// Istio splits without trimming, so "5xx, reset" is rejected.
		for _, policy := range strings.Split(rt.RetryOn, ",") {
			code, _ := strconv.Atoi(policy)
			if http.StatusText(code) == "" && !retryOnPolicies[policy] {
				r.errorf(p+".retryOn", "%q is not a valid retryOn policy (tokens are comma-separated without spaces)", policy)
			}
		}
	}
	validateDurationField(r, p+".backoff", rt.Backoff)
	if !v.Defaults().RetryBackoffHonoured {
		if rt.Backoff != nil {
			r.warnf(p+".backoff", "is ignored by Istio %s: backoff is honoured since 1.26; Envoy's 25ms base interval applies", v)
		}
		if rt.RetryIgnorePreviousHosts != nil {
			r.warnf(p+".retryIgnorePreviousHosts", "is ignored by Istio %s: it is honoured since 1.26; previous hosts are always skipped", v)
		}
	}
}

// validateFault checks a fault block at p.
func validateFault(r *reporter, p string, f *HTTPFaultInjection) {
	if f.Delay == nil && f.Abort == nil {
		r.errorf(p, "HTTP fault injection must have an abort and/or a delay")
	}
	if d := f.Delay; d != nil {
		dp := p + ".delay"
		switch {
		case d.ExponentialDelay != nil:
			r.errorf(dp+".exponentialDelay", "exponentialDelay is not supported by Istio: use fixedDelay")
		case d.FixedDelay == nil:
			r.errorf(dp+".fixedDelay", "is required")
		}
		validateDurationField(r, dp+".fixedDelay", d.FixedDelay)
		if d.FixedDelay != nil && d.FixedDelay.D() > MaxFixedDelay {
			r.errorf(dp+".fixedDelay", "%s is above the ceiling of %s", d.FixedDelay, Duration(MaxFixedDelay))
		}
		validatePercent(r, dp+".percentage", d.Percentage, true)
		if d.Percent != nil {
			if *d.Percent < 0 || *d.Percent > 100 {
				r.errorf(dp+".percent", "percentage %d is not in range 0..100", *d.Percent)
			}
			r.warnf(dp+".percent", "is deprecated: use percentage: {value: %d}", *d.Percent)
		}
		if d.Percentage == nil && d.Percent == nil {
			warnNoPercentage(r, dp+".percentage")
		}
	}
	if a := f.Abort; a != nil {
		validateAbort(r, p+".abort", a)
	}
}

// validateAbort checks an abort at p: one error type, and a percentage.
func validateAbort(r *reporter, p string, a *FaultAbort) {
	set := 0
	for _, ok := range []bool{a.HTTPStatus != nil, a.GRPCStatus != "", a.HTTP2Error != ""} {
		if ok {
			set++
		}
	}
	switch {
	case set > 1:
		r.errorf(p, "set exactly one of httpStatus, grpcStatus or http2Error")
	case set == 0:
		r.warnf(p, "abort configured, but error type not set: Istio injects no abort (set httpStatus or grpcStatus)")
	}
	if a.HTTPStatus != nil && (*a.HTTPStatus < 200 || *a.HTTPStatus > 599) {
		r.errorf(p+".httpStatus", "HTTP status %d is not in range 200-599", *a.HTTPStatus)
	}
	if _, ok := GRPCCode(a.GRPCStatus); a.GRPCStatus != "" && !ok {
		r.errorf(p+".grpcStatus", "gRPC status %q is not supported: use an upper-case code name such as UNAVAILABLE or NOT_FOUND", a.GRPCStatus)
	}
	if a.HTTP2Error != "" {
		r.errorf(p+".http2Error", "HTTP/2 abort fault injection is not supported by Istio")
	}
	validatePercent(r, p+".percentage", a.Percentage, true)
	if a.Percentage == nil {
		warnNoPercentage(r, p+".percentage")
	}
}

// warnNoPercentage explains the classic pitfall: without a percentage a
// fault applies to nobody.
func warnNoPercentage(r *reporter, path string) {
	r.warnf(path, "no percentage: Istio injects this fault into 0 %% of requests (set percentage: {value: 100} for all)")
}

// validateMirrors checks mirror, mirrors and the mirror percentages of the
// rule at p.
func validateMirrors(r *reporter, p string, h *HTTPRoute) {
	if h.Mirror != nil {
		validateDestination(r, p+".mirror", h.Mirror)
	}
	if h.MirrorPercentage != nil {
		validatePercent(r, p+".mirrorPercentage", h.MirrorPercentage, false)
		if h.Mirror == nil {
			r.warnf(p+".mirrorPercentage", "is ignored: it only applies to mirror, which is not set")
		}
	}
	if n := h.MirrorPercent; n != nil {
		if *n > 100 {
			r.errorf(p+".mirrorPercent", "mirror_percent must have a max value of 100 (it has %d)", *n)
		}
		msg := fmt.Sprintf("%s is deprecated: use mirrorPercentage: {value: %d}", mirrorPercentSpelling(r, p), *n)
		switch {
		case h.Mirror == nil:
			msg += "; it is ignored here, since mirror is not set"
		case h.MirrorPercentage != nil:
			msg += "; it is ignored here, since mirrorPercentage is set"
		}
		r.warnf(p+".mirrorPercent", "%s", msg)
	}
	for k := range h.Mirrors {
		mp := fmt.Sprintf("%s.mirrors[%d]", p, k)
		validateDestination(r, mp+".destination", &h.Mirrors[k].Destination)
		validatePercent(r, mp+".percentage", h.Mirrors[k].Percentage, false)
	}
}

// mirrorPercentSpelling returns the spelling of the deprecated field the
// document used (mirrorPercent or mirror_percent), for the message.
func mirrorPercentSpelling(r *reporter, p string) string {
	if _, ok := r.lines[p+".mirror_percent"]; ok {
		return "mirror_percent"
	}
	return "mirrorPercent"
}

// --- rule reachability ---

// warnUnreachableRules reports rules Istio never uses: every rule after
// the first catch-all (VirtualServiceUnreachableRule), and match blocks
// repeating an earlier one (VirtualServiceIneffectiveMatch).
func warnUnreachableRules(r *reporter, rules []HTTPRoute) {
	firstUse := map[string]string{} // match conditions -> path of the block that used them first
	for i := range rules {
		h := &rules[i]
		p := fmt.Sprintf("spec.http[%d]", i)
		type dup struct{ path, earlier string }
		var dups []dup
		for j := range h.Match {
			mp := fmt.Sprintf("%s.match[%d]", p, j)
			key := matchKey(h.Match[j])
			if earlier, ok := firstUse[key]; ok {
				dups = append(dups, dup{mp, earlier})
				continue
			}
			firstUse[key] = mp
		}
		if len(h.Match) > 0 && len(dups) == len(h.Match) {
			r.warnf(p, "is unreachable: all its matches are used by earlier rules, so Istio never uses this rule (VirtualServiceUnreachableRule)")
		} else {
			for _, d := range dups {
				r.warnf(d.path, "is never used: %s has the same conditions (VirtualServiceIneffectiveMatch)", d.earlier)
			}
		}
		if isCatchAll(h) {
			for k := i + 1; k < len(rules); k++ {
				r.warnf(fmt.Sprintf("spec.http[%d]", k), "is unreachable: %s before it matches every request, so Istio never uses this rule (VirtualServiceUnreachableRule)", p)
			}
			return
		}
	}
}

// matchKey serialises the conditions of a match block (not its name or
// stat prefix), so equal conditions compare equal.
func matchKey(m HTTPMatchRequest) string {
	m.Name, m.StatPrefix = "", ""
	b, _ := json.Marshal(m)
	return string(b)
}

// onlyURI reports a match block with no condition besides uri (and
// ignoreUriCase, which only qualifies uri).
func onlyURI(m *HTTPMatchRequest) bool {
	c := *m
	c.URI, c.IgnoreURICase = nil, false
	return matchKey(c) == "{}"
}

// isCatchAll reports a rule that matches every request: no match blocks,
// or a block that is only `prefix: /`, `regex: .*` or nothing.
func isCatchAll(h *HTTPRoute) bool {
	if len(h.Match) == 0 {
		return true
	}
	for i := range h.Match {
		if isCatchAllMatch(&h.Match[i]) {
			return true
		}
	}
	return false
}

// isCatchAllMatch reports a match block whose only condition, if any, is a
// uri matching every path. Blocks restricted to a port, gateway or source
// are not catch-alls: they apply to part of the traffic only.
func isCatchAllMatch(m *HTTPMatchRequest) bool {
	if !onlyURI(m) {
		return false
	}
	switch u := m.URI; {
	case u == nil:
		return true
	case u.Exact != nil:
		return false
	case u.Prefix != nil:
		return *u.Prefix == "/" || *u.Prefix == ""
	case u.Regex != nil:
		return *u.Regex == ".*"
	}
	return true // uri: {} matches every path
}
