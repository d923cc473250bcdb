package scenarios

// ServiceEntry rules (docs/istio.md, ServiceEntry; istio/istio
// pkg/config/validation/validation.go ValidateServiceEntry).

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// maxServiceEntryHosts is the CRD's limit on spec.hosts.
const maxServiceEntryHosts = 256

// validateServiceEntry applies Istio's ServiceEntry rules
// (docs/istio.md, ServiceEntry).
func validateServiceEntry(r *reporter, se *ServiceEntry, _ IstioVersion) {
	s := &se.Spec
	validateServiceEntryHosts(r, s.Hosts)
	oneOf(r, "spec.location", s.Location, "MESH_EXTERNAL", "MESH_INTERNAL")
	resolutionOK := oneOf(r, "spec.resolution", s.Resolution, "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS")
	cidr := false
	for i, a := range s.Addresses {
		p := fmt.Sprintf("spec.addresses[%d]", i)
		if strings.Contains(a, "/") {
			cidr = true
			if _, err := netip.ParsePrefix(a); err != nil {
				r.errorf(p, "%s is not a valid CIDR block", a)
			}
		} else if !isIP(a) {
			r.errorf(p, "%s is not a valid IP", a)
		}
	}
	resolution := s.Resolution
	if resolution == "" {
		resolution = "NONE"
	}
	if cidr && resolution != "NONE" && resolution != "STATIC" {
		r.errorf("spec.addresses", "CIDR addresses are allowed only for NONE/STATIC resolution types")
	}
	portNames := validateServicePorts(r, s.Ports, resolution)
	if resolutionOK {
		validateResolution(r, s, resolution, portNames)
	}
	validateExportTo(r, "spec.exportTo", s.ExportTo, se.Metadata.Namespace, true)
	if ws := s.WorkloadSelector; ws != nil {
		if len(s.Endpoints) > 0 {
			r.errorf("spec.workloadSelector", "only one of workloadSelector or endpoints is allowed in a service entry")
		}
		validateSelectorLabels(r, "spec.workloadSelector.labels", ws.Labels)
		r.warnf("spec.workloadSelector", "Faultline has no workloads to select: the entry's hosts reach the endpoints spec.services binds to them, if any (else 503 UH)")
	}
}

// validateServiceEntryHosts checks spec.hosts: 1 to 256 names, wildcard
// prefixes allowed, "*" alone rejected.
func validateServiceEntryHosts(r *reporter, hosts []string) {
	switch {
	case len(hosts) == 0:
		r.errorf("spec.hosts", "service entry must have at least one host")
	case len(hosts) > maxServiceEntryHosts:
		r.errorf("spec.hosts", "service entry may have at most %d hosts, not %d", maxServiceEntryHosts, len(hosts))
	}
	for i, h := range hosts {
		p := fmt.Sprintf("spec.hosts[%d]", i)
		switch {
		case h == "*":
			r.errorf(p, "invalid host *: a ServiceEntry cannot capture every host")
		case checkWildcardDomain(h) != nil:
			r.errorf(p, "%v", checkWildcardDomain(h))
		case isPartialWildcard(h):
			r.warnf(p, "partial wildcard %q not allowed: only a leading \"*.\" is a wildcard", h)
		}
	}
}

// validateServicePorts checks spec.ports and returns the port names.
func validateServicePorts(r *reporter, ports []ServicePort, resolution string) map[string]bool {
	names := map[string]bool{}
	numbers := map[uint32]bool{}
	for i, port := range ports {
		p := fmt.Sprintf("spec.ports[%d]", i)
		validatePort(r, p+".number", port.Number)
		if numbers[port.Number] && port.Number != 0 {
			r.errorf(p+".number", "service entry port %d already defined", port.Number)
		}
		numbers[port.Number] = true
		switch {
		case port.Name == "":
			r.errorf(p+".name", "is required")
		case !isIstioLabel(port.Name):
			r.errorf(p+".name", "invalid port name: %s (must be a DNS-1123 label)", port.Name)
		case names[port.Name]:
			r.errorf(p+".name", "service entry port name %q already defined", port.Name)
		}
		names[port.Name] = true
		if port.Protocol != "" {
			validateProtocol(r, p+".protocol", port.Protocol)
		}
		if port.TargetPort != 0 {
			validatePort(r, p+".targetPort", port.TargetPort)
			if resolution == "NONE" {
				r.warnf(p+".targetPort", "targetPort has no effect when resolution mode is NONE")
			}
		}
	}
	return names
}

// validateResolution checks the endpoints and hosts against the resolution.
func validateResolution(r *reporter, s *ServiceEntrySpec, resolution string, portNames map[string]bool) {
	switch resolution {
	case "NONE":
		if len(s.Endpoints) > 0 {
			r.errorf("spec.endpoints", "no endpoints should be provided for resolution type NONE")
		}
	case "STATIC":
		if len(s.Endpoints) == 0 && s.WorkloadSelector == nil {
			r.warnf("spec.endpoints", "resolution STATIC without endpoints: Istio has no endpoint to send this host's traffic to (503 no healthy upstream)")
		}
	case "DNS", "DNS_ROUND_ROBIN":
		if len(s.Endpoints) == 0 {
			for i, h := range s.Hosts {
				if h != "*" && checkWildcardDomain(h) == nil && checkFQDN(h) != nil {
					r.errorf(fmt.Sprintf("spec.hosts[%d]", i), "hosts must be FQDN (no wildcard) if no endpoints are provided for resolution mode %s", resolution)
				}
			}
		}
		if resolution == "DNS_ROUND_ROBIN" && len(s.Endpoints) > 1 {
			r.errorf("spec.endpoints", "there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN")
		}
	}
	for i := range s.Endpoints {
		validateWorkloadEntry(r, fmt.Sprintf("spec.endpoints[%d]", i), &s.Endpoints[i], resolution, portNames)
	}
}

// validateWorkloadEntry checks one endpoint at p: an IP address (STATIC)
// or also a DNS name (DNS resolutions), ports named by the service ports,
// valid labels.
func validateWorkloadEntry(r *reporter, p string, ep *WorkloadEntry, resolution string, portNames map[string]bool) {
	ap := p + ".address"
	switch {
	case ep.Address == "":
		r.errorf(ap, "address is required")
	case strings.HasPrefix(ep.Address, "unix://"):
		r.warnf(ap, "Faultline does not dial unix domain sockets: the endpoint is left out (traffic only it could take gets 503 UH)")
	case isIP(ep.Address):
	case resolution == "STATIC":
		r.errorf(ap, "endpoint address %q is not a valid IP address (resolution STATIC needs IP addresses)", ep.Address)
	case checkFQDN(ep.Address) != nil:
		r.errorf(ap, "endpoint address %q is not a valid FQDN or an IP address", ep.Address)
	}
	for _, name := range slices.Sorted(maps.Keys(ep.Ports)) {
		pp := p + ".ports." + name
		if !portNames[name] {
			r.errorf(pp, "endpoint port %s is not defined by the service entry", name)
		}
		validatePort(r, pp, ep.Ports[name])
	}
	validateLabels(r, p+".labels", ep.Labels)
}
