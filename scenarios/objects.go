package scenarios

import (
	"encoding/json"
	"fmt"
)

// Object is one Istio resource of a stream as its author wrote it, for a
// cluster's API server to take (a mesh environment, an export).
type Object struct {
	APIVersion string
	Kind       string
	// Namespace is metadata.namespace as written; empty means the one
	// the resource is applied in.
	Namespace string
	Name      string
	// Source is the resource as written, as a JSON object.
	Source []byte
}

// ClusterSetMetadata are the metadata fields of a resource that a cluster
// sets itself: one created with them is refused, or taken for an update
// of another. ObjectMeta accepts them (a resource pasted from kubectl get
// carries them); what goes to a cluster leaves them out.
var ClusterSetMetadata = []string{"resourceVersion", "uid", "generation", "creationTimestamp"}

// Objects returns the Istio resources the stream holds itself (not those
// an experiment took from its environment's baseline), as written, in the
// order a cluster should take them: Gateways and ServiceEntries, then
// DestinationRules (so subsets exist), then VirtualServices.
func (d *Document) Objects() ([]Object, error) {
	var out []Object
	add := func(res any, kind string, m ObjectMeta) error {
		if d.base[res] {
			return nil
		}
		n := d.nodes[res]
		if n == nil {
			return fmt.Errorf("scenarios: %s %s was not decoded from a stream", kind, m.Name)
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("scenarios: %s %s: %w", kind, m.Name, err)
		}
		src, err := json.Marshal(jsonValue(v))
		if err != nil {
			return fmt.Errorf("scenarios: %s %s: %w", kind, m.Name, err)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
		}
		_ = json.Unmarshal(src, &head)
		out = append(out, Object{APIVersion: head.APIVersion, Kind: kind, Namespace: m.Namespace, Name: m.Name, Source: src})
		return nil
	}
	for _, x := range d.Gateways {
		if err := add(x, "Gateway", x.Metadata); err != nil {
			return nil, err
		}
	}
	for _, x := range d.ServiceEntries {
		if err := add(x, "ServiceEntry", x.Metadata); err != nil {
			return nil, err
		}
	}
	for _, x := range d.DestinationRules {
		if err := add(x, "DestinationRule", x.Metadata); err != nil {
			return nil, err
		}
	}
	for _, x := range d.VirtualServices {
		if err := add(x, "VirtualService", x.Metadata); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// jsonValue turns what yaml.v3 decodes into values encoding/json takes:
// maps with non-string keys get string keys.
func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonValue(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = jsonValue(e)
		}
		return x
	}
	return v
}

// onMesh reports whether the experiment is laid over a mesh environment,
// whose hosts are the cluster's Services.
func (d *Document) onMesh() bool {
	return d.env != nil && d.env.Environment != nil && d.env.Environment.IsMesh()
}

// validateOnMesh checks an experiment on a mesh environment: its hosts
// are the namespace's, so it binds none, and its resources go to the
// environment's namespace.
func (d *Document) validateOnMesh(r *reporter, problems *Problems) {
	ns := d.env.Environment.Spec.Kubernetes.Namespace
	e := d.Experiment
	if len(e.Spec.Services) > 0 {
		r.errorf("spec.services", "binds hosts for Faultline's own proxy: on mesh environment %s the hosts are namespace %s's Kubernetes Services", d.env.Name(), ns)
	}
	for i, c := range e.Spec.Hypothesis {
		if m, _ := LookupMetric(c.Metric); m.Proxy {
			r.errorf(fmt.Sprintf("spec.hypothesis[%d].metric", i), "%s is counted by the data plane: on mesh environment %s that is the cluster's Envoys, which Faultline does not read (grade what the load sees: error_ratio, status_ratio, latency_*)", c.Metric, d.env.Name())
		}
	}
	check := func(res any, label string, m ObjectMeta) {
		if m.Namespace != "" && m.Namespace != ns {
			d.reporter(res, label, problems).errorf("metadata.namespace", "is %q, but mesh environment %s applies runs in namespace %s (leave it out, or name %s)", m.Namespace, d.env.Name(), ns, ns)
		}
	}
	for _, x := range d.VirtualServices {
		check(x, "VirtualService "+x.Metadata.Name, x.Metadata)
	}
	for _, x := range d.DestinationRules {
		check(x, "DestinationRule "+x.Metadata.Name, x.Metadata)
	}
	for _, x := range d.Gateways {
		check(x, "Gateway "+x.Metadata.Name, x.Metadata)
	}
	for _, x := range d.ServiceEntries {
		check(x, "ServiceEntry "+x.Metadata.Name, x.Metadata)
	}
}
