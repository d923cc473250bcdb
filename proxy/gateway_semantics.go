package proxy

import (
	"net/http"

	"github.com/faultline/faultline/scenarios"
)

// Gateway semantics: istiod marks the VirtualServices it generates from
// Gateway API routes with the annotation
// internal.istio.io/route-semantics: gateway, and builds their Envoy
// routes differently (pilot/pkg/networking/core/route/route.go). The
// difference Faultline keeps is cluster_not_found_response_code
// INTERNAL_SERVER_ERROR: a weighted destination whose cluster does not
// exist (a backendRef to a Service without endpoints, or to a port the
// Service does not have) is answered 500 rather than 503, with the weight
// it was given, as the Gateway API asks of requests sent to an invalid
// backend.

// gatewaySemantics reports a VirtualService with gateway semantics.
func gatewaySemantics(vs *scenarios.VirtualService) bool {
	return vs.Metadata.Annotations[scenarios.RouteSemanticsAnnotation] == scenarios.RouteSemanticsGateway
}

// missingClusterDestination is a weighted destination to a cluster that
// does not exist, under gateway semantics: resolve finds no cluster, and
// the router answers clusterNotFoundCode (500, NC).
func missingClusterDestination(name, service string) *destination {
	return &destination{name: name, service: service, missingSubset: true, notFoundCode: http.StatusInternalServerError}
}

// clusterNotFoundCode is the status a request routed to d gets when d's
// cluster does not exist: 503, or 500 under gateway semantics.
func (d *destination) clusterNotFoundCode() int {
	if d.notFoundCode != 0 {
		return d.notFoundCode
	}
	return http.StatusServiceUnavailable
}
