package proxy

import (
	"log/slog"

	"github.com/faultline/faultline/scenarios"
)

// routingDoc is doc as the proxy routes it: delegate VirtualServices
// merged into their roots as istiod merges them
// (scenarios.RoutingVirtualServices; docs/istio.md, Delegate
// VirtualServices). A document without delegation is returned as it is;
// otherwise a shallow copy whose VirtualServices are the merged ones.
// What istiod would log while merging (a missing delegate, a delegate
// route whose matches conflict with the root's) is logged as a warning.
func routingDoc(doc *scenarios.Document, log *slog.Logger) *scenarios.Document {
	delegating := false
	for _, vs := range doc.VirtualServices {
		if vs.IsDelegate() {
			delegating = true
			break
		}
		for i := range vs.Spec.HTTP {
			if vs.Spec.HTTP[i].Delegate != nil {
				delegating = true
			}
		}
	}
	if !delegating {
		return doc
	}
	vss, warnings := doc.RoutingVirtualServices()
	for _, w := range warnings {
		log.Warn("proxy: " + w.String())
	}
	merged := *doc
	merged.VirtualServices = vss
	return &merged
}
