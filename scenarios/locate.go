package scenarios

// Locate returns ps with the Line of each problem filled in where the
// problem names a resource of the document ("VirtualService reviews",
// "Experiment x") and a field path in it: the line of that field, or of
// its nearest parent written in the source. Problems of resources that
// came from an environment's baseline (ParseOn), or with a line already,
// are left as they are. Problems found after parsing (the safety policy,
// the proxy's compilation) get their lines this way.
func (d *Document) Locate(ps Problems) Problems {
	out := append(Problems(nil), ps...)
	index := map[string]map[string]int{}
	add := func(res any, kind string, md ObjectMeta) {
		if d.base[res] || d.lines[res] == nil {
			return
		}
		label := kind + " " + md.Name
		if _, taken := index[label]; !taken {
			index[label] = d.lines[res]
		}
	}
	if d.Experiment != nil && d.Environment == nil {
		add(d.Experiment, "Experiment", d.Experiment.Metadata)
	}
	if d.Environment != nil {
		add(d.Environment, KindEnvironment, d.Environment.Metadata)
		// The proxy names the environment's stand-in Experiment.
		add(d.Environment, "Experiment", d.Environment.Metadata)
	}
	for _, r := range d.VirtualServices {
		add(r, "VirtualService", r.Metadata)
	}
	for _, r := range d.DestinationRules {
		add(r, "DestinationRule", r.Metadata)
	}
	for _, r := range d.Gateways {
		add(r, "Gateway", r.Metadata)
	}
	for _, r := range d.ServiceEntries {
		add(r, "ServiceEntry", r.Metadata)
	}
	for i, p := range out {
		if p.Line != 0 {
			continue
		}
		if lines := index[p.Document]; lines != nil {
			out[i].Line = (&reporter{lines: lines}).line(p.Path)
		}
	}
	return out
}

// OnMesh reports whether the document is an experiment laid over a mesh
// environment (ParseOn): Istio's sidecars route its traffic, not
// Faultline's proxy.
func (d *Document) OnMesh() bool { return d.onMesh() }
