package scenarios

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Delegate VirtualServices, merged as istiod merges them
// (pilot/pkg/model/virtualservice_controller.go mergeVirtualServices,
// virtualservice.go MergeHTTPRoutes): an http route of a root
// VirtualService (one with hosts) that names a delegate is replaced by the
// delegate's http routes, each with its matches merged under the root
// route's and the root route's policies filling in what it leaves unset. A
// delegate is a VirtualService without hosts; it takes no gateways and no
// tcp or tls routes, and its routes cannot delegate again (one level). What
// istiod only logs is a warning here: a delegate that does not exist or is
// not exported to the root's namespace drops the root route, a delegate
// route whose matches conflict with the root's is dropped.

// Delegate names a delegate VirtualService.
type Delegate struct {
	Name string `json:"name"`
	// Namespace is the delegate's namespace; empty means the root's.
	Namespace string `json:"namespace,omitempty"`
}

// IsDelegate reports whether vs is a delegate VirtualService: it has no
// hosts, and only a root's route that names it routes with it.
func (vs *VirtualService) IsDelegate() bool { return len(vs.Spec.Hosts) == 0 }

// isRoot reports whether vs has a route that delegates.
func (vs *VirtualService) isRoot() bool {
	return slices.ContainsFunc(vs.Spec.HTTP, func(h HTTPRoute) bool { return h.Delegate != nil })
}

func nsOf(md ObjectMeta) string {
	if md.Namespace == "" {
		return DefaultNamespace
	}
	return md.Namespace
}

// RoutingVirtualServices are the VirtualServices as istiod hands them to
// the proxies: delegates left out, each root's delegating routes replaced
// by its delegates' merged routes (a copy; the document is not changed).
// The warnings say what istiod logs while merging.
func (d *Document) RoutingVirtualServices() ([]*VirtualService, Problems) {
	var out []*VirtualService
	var warnings Problems
	for _, vs := range d.VirtualServices {
		switch {
		case vs.IsDelegate():
			continue
		case !vs.isRoot():
			out = append(out, vs)
			continue
		}
		merged := *vs
		merged.Spec.HTTP = d.mergeDelegates(vs, func(path, msg string) {
			warnings = append(warnings, Problem{Severity: SeverityWarning, Document: "VirtualService " + vs.Metadata.Name, Path: path, Message: msg})
		})
		out = append(out, &merged)
	}
	return out, warnings
}

// validateDelegates warns, at root's delegating routes, about what istiod
// would drop while merging root's delegates.
func (d *Document) validateDelegates(r *reporter, root *VirtualService) {
	if root.IsDelegate() || !root.isRoot() || d.unresolved() {
		return
	}
	d.mergeDelegates(root, func(path, msg string) { r.warnf(path, "%s", msg) })
}

// mergeDelegates is root's http routes with each delegating route
// replaced by its delegate's routes merged under it; warn receives the
// path of a root route and what istiod logs about it.
func (d *Document) mergeDelegates(root *VirtualService, warn func(path, msg string)) []HTTPRoute {
	rootNS := nsOf(root.Metadata)
	var out []HTTPRoute
	for i := range root.Spec.HTTP {
		h := &root.Spec.HTTP[i]
		if h.Delegate == nil {
			out = append(out, *h)
			continue
		}
		p := fmt.Sprintf("spec.http[%d].delegate", i)
		ns := h.Delegate.Namespace
		if ns == "" {
			ns = rootNS
		}
		del := d.delegate(h.Delegate.Name, ns)
		switch {
		case del == nil:
			warn(p, fmt.Sprintf("delegate VirtualService %s/%s is not in this experiment (a VirtualService without hosts): istiod ignores this route, so requests it would match go on to the next route", ns, h.Delegate.Name))
			continue
		case !exportedTo(del, rootNS):
			warn(p, fmt.Sprintf("delegate VirtualService %s/%s is not exported to namespace %s: istiod ignores this route", ns, h.Delegate.Name, rootNS))
			continue
		}
		for j := range del.Spec.HTTP {
			leaf := qualifyHosts(del.Spec.HTTP[j], ns, rootNS)
			merged, ok := mergeHTTPRoute(h, leaf)
			if !ok {
				warn(p, fmt.Sprintf("the matches of route %d of delegate %s/%s conflict with this route's (a delegate's match must narrow one of the root's): istiod drops that route", j, ns, h.Delegate.Name))
				continue
			}
			out = append(out, merged)
		}
	}
	return out
}

// delegate finds the delegate VirtualService name in namespace ns.
func (d *Document) delegate(name, ns string) *VirtualService {
	for _, vs := range d.VirtualServices {
		if vs.IsDelegate() && vs.Metadata.Name == name && nsOf(vs.Metadata) == ns {
			return vs
		}
	}
	return nil
}

// exportedTo reports whether vs is visible in namespace ns: no exportTo
// (the default, every namespace), "*", "." in its own namespace, or ns.
func exportedTo(vs *VirtualService, ns string) bool {
	if len(vs.Spec.ExportTo) == 0 {
		return true
	}
	for _, e := range vs.Spec.ExportTo {
		if e == "*" || e == ns || e == "." && nsOf(vs.Metadata) == ns {
			return true
		}
	}
	return false
}

// qualifyHosts returns h with its destinations' short names expanded in
// the delegate's namespace, as istiod resolves a delegate's short names,
// when that differs from the root's.
func qualifyHosts(h HTTPRoute, delegateNS, rootNS string) HTTPRoute {
	if delegateNS == rootNS {
		return h
	}
	h.Route = slices.Clone(h.Route)
	for i := range h.Route {
		h.Route[i].Destination.Host = FQDN(h.Route[i].Destination.Host, delegateNS)
	}
	if h.Mirror != nil {
		m := *h.Mirror
		m.Host = FQDN(m.Host, delegateNS)
		h.Mirror = &m
	}
	h.Mirrors = slices.Clone(h.Mirrors)
	for i := range h.Mirrors {
		h.Mirrors[i].Destination.Host = FQDN(h.Mirrors[i].Destination.Host, delegateNS)
	}
	return h
}

// mergeHTTPRoute merges delegate route leaf under root route (istiod's
// mergeHTTPRoute): merged matches, a joined name, and root's policies
// where leaf has none. ok is false when the matches conflict.
func mergeHTTPRoute(root *HTTPRoute, leaf HTTPRoute) (HTTPRoute, bool) {
	matches, ok := mergeMatches(root.Match, leaf.Match)
	if !ok {
		return HTTPRoute{}, false
	}
	leaf.Match = matches
	leaf.Name = joinName(root.Name, leaf.Name)
	fill(&leaf.Rewrite, root.Rewrite)
	fill(&leaf.DirectResponse, root.DirectResponse)
	fill(&leaf.Timeout, root.Timeout)
	fill(&leaf.Retries, root.Retries)
	fill(&leaf.Fault, root.Fault)
	fill(&leaf.Mirror, root.Mirror)
	fill(&leaf.MirrorPercent, root.MirrorPercent)
	fill(&leaf.MirrorPercentage, root.MirrorPercentage)
	fill(&leaf.CorsPolicy, root.CorsPolicy)
	if leaf.Mirrors == nil {
		leaf.Mirrors = root.Mirrors
	}
	fill(&leaf.Headers, root.Headers)
	return leaf, true
}

func fill[T any](leaf **T, root *T) {
	if *leaf == nil {
		*leaf = root
	}
}

// joinName is istiod's name for a merged route or match: the root's, the
// delegate's, or both joined by "-".
func joinName(root, leaf string) string {
	switch {
	case leaf == "":
		return root
	case root == "":
		return leaf
	}
	return root + "-" + leaf
}

// mergeMatches is istiod's mergeHTTPMatchRequests: every delegate match is
// merged with each root match it does not conflict with; one that fits no
// root match makes the whole delegate route conflict.
func mergeMatches(root, leaf []HTTPMatchRequest) ([]HTTPMatchRequest, bool) {
	if len(root) == 0 {
		return leaf, true
	}
	if len(leaf) == 0 {
		return root, true
	}
	var out []HTTPMatchRequest
	for i := range leaf {
		found := false
		for j := range root {
			if matchConflict(&root[j], &leaf[i]) {
				continue
			}
			out = append(out, mergeMatch(&root[j], leaf[i]))
			found = true
		}
		if !found {
			return nil, false
		}
	}
	return out, len(out) > 0
}

// mergeMatch fills leaf's unset conditions from root; maps are merged,
// leaf's entries winning (istiod's mergeHTTPMatchRequest).
func mergeMatch(root *HTTPMatchRequest, leaf HTTPMatchRequest) HTTPMatchRequest {
	leaf.Name = joinName(root.Name, leaf.Name)
	fill(&leaf.URI, root.URI)
	fill(&leaf.Scheme, root.Scheme)
	fill(&leaf.Method, root.Method)
	fill(&leaf.Authority, root.Authority)
	leaf.Headers = mergeMaps(root.Headers, leaf.Headers)
	leaf.WithoutHeaders = mergeMaps(root.WithoutHeaders, leaf.WithoutHeaders)
	leaf.QueryParams = mergeMaps(root.QueryParams, leaf.QueryParams)
	if leaf.Port == 0 {
		leaf.Port = root.Port
	}
	leaf.SourceLabels = mergeMaps(root.SourceLabels, leaf.SourceLabels)
	if leaf.SourceNamespace == "" {
		leaf.SourceNamespace = root.SourceNamespace
	}
	if len(leaf.Gateways) == 0 {
		leaf.Gateways = root.Gateways
	}
	if leaf.StatPrefix == "" {
		leaf.StatPrefix = root.StatPrefix
	}
	return leaf
}

// mergeMaps is a copy of root with leaf's entries over it; nil when both
// are empty.
func mergeMaps[V any](root, leaf map[string]V) map[string]V {
	if len(root) == 0 && len(leaf) == 0 {
		return nil
	}
	out := make(map[string]V, len(root)+len(leaf))
	maps.Copy(out, root)
	maps.Copy(out, leaf)
	return out
}

// matchConflict is istiod's hasConflict: leaf cannot narrow root.
func matchConflict(root, leaf *HTTPMatchRequest) bool {
	pairs := [][2]*StringMatch{{root.URI, leaf.URI}, {root.Scheme, leaf.Scheme}, {root.Method, leaf.Method}, {root.Authority, leaf.Authority}}
	for _, p := range pairs {
		if stringMatchConflict(p[0], p[1]) {
			return true
		}
	}
	for _, m := range []struct{ root, leaf map[string]StringMatch }{
		{root.Headers, leaf.Headers}, {root.WithoutHeaders, leaf.WithoutHeaders}, {root.QueryParams, leaf.QueryParams},
	} {
		for k, lv := range m.leaf {
			var rv *StringMatch
			if v, ok := m.root[k]; ok {
				rv = &v
			}
			if stringMatchConflict(rv, &lv) {
				return true
			}
		}
	}
	switch {
	case root.IgnoreURICase != leaf.IgnoreURICase:
		return true
	case root.Port > 0 && leaf.Port > 0 && root.Port != leaf.Port:
		return true
	case root.SourceNamespace != "" && leaf.SourceNamespace != root.SourceNamespace:
		return true
	}
	for k, lv := range leaf.SourceLabels {
		if v, ok := root.SourceLabels[k]; ok && v != lv {
			return true
		}
	}
	if len(root.Gateways) > 0 && len(leaf.Gateways) > 0 {
		if len(root.Gateways) < len(leaf.Gateways) {
			return true
		}
		for _, g := range leaf.Gateways {
			if !slices.Contains(root.Gateways, g) {
				return true
			}
		}
	}
	return false
}

// stringMatchConflict is istiod's: a leaf condition must narrow the
// root's (an exact equal to the root's exact, a prefix or exact under the
// root's prefix); regexes never combine with another condition.
func stringMatchConflict(root, leaf *StringMatch) bool {
	if root == nil || leaf == nil {
		return false
	}
	rExact, rPrefix, rRegex := val(root.Exact), val(root.Prefix), val(root.Regex)
	lExact, lPrefix, lRegex := val(leaf.Exact), val(leaf.Prefix), val(leaf.Regex)
	if rRegex != "" && (lRegex != "" || lPrefix != "" || lExact != "") {
		return true
	}
	if lRegex != "" && (rRegex != "" || rPrefix != "" || rExact != "") {
		return true
	}
	if rExact != "" {
		return lPrefix != "" || lExact != rExact
	}
	if rPrefix != "" {
		if lPrefix != "" {
			return !strings.HasPrefix(lPrefix, rPrefix)
		}
		if lExact != "" {
			return !strings.HasPrefix(lExact, rPrefix)
		}
	}
	return true
}

func val(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
