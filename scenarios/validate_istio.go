package scenarios

// Istio's own validation rules for each resource kind (ISTIO.md), filled in
// rule by rule.

func validateVirtualService(r *reporter, vs *VirtualService, v IstioVersion) {}

func validateDestinationRule(r *reporter, dr *DestinationRule, v IstioVersion) {}

func validateGateway(r *reporter, gw *Gateway, v IstioVersion) {}

func validateServiceEntry(r *reporter, se *ServiceEntry, v IstioVersion) {}
