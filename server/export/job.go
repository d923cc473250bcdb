package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/faultline/faultline/scenarios"
)

// FortioVersion is the release of fortio that Faultline's own load runs
// (fortio.org/fortio in go.mod); the Job runs its image, so that the load
// behaves the same.
const FortioVersion = "1.75.3"

// Image is the Job's container image.
const Image = "fortio/fortio:" + FortioVersion

// Labels of the Job and its pod.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	LabelExperiment = "faultline.dev/experiment"
	// AnnotationDescription holds the experiment's metadata.description.
	AnnotationDescription = "faultline.dev/description"
)

// Defaults of the load that fortio's flags would not give: Faultline's
// own (loadgen's), which match fortio's flag defaults but for qps, whose
// 0 means "as fast as possible" in an experiment and 8 in fortio.
const (
	defaultConnections = 4
	defaultDuration    = "5s"
)

// job renders the Job that sends the experiment's load l, with the
// comment that says where it goes.
func job(doc *scenarios.Document, l *scenarios.Load, o Options) ([]byte, error) {
	name := doc.Name()
	target, host, why, err := targetOf(doc, l, o)
	if err != nil {
		return nil, err
	}
	labels := map[string]any{LabelManagedBy: "faultline", LabelExperiment: trimLabel(name)}
	podLabels := maps.Clone(labels)
	// VirtualService faults, retries and timeouts act in the caller's
	// Envoy: fortio's calls must leave the pod through a sidecar.
	podLabels["sidecar.istio.io/inject"] = "true"
	meta := map[string]any{"name": jobName(name), "namespace": o.Namespace, "labels": labels}
	if d := doc.Experiment.Metadata.Description; d != "" {
		meta["annotations"] = map[string]any{AnnotationDescription: d}
	}
	j := map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   meta,
		"spec": map[string]any{
			"backoffLimit": 0,
			"template": map[string]any{
				"metadata": map[string]any{
					"labels": podLabels,
					// fortio's first calls wait for the sidecar to be ready.
					"annotations": map[string]any{"proxy.istio.io/config": `{"holdApplicationUntilProxyStarts": true}`},
				},
				"spec": map[string]any{
					"restartPolicy": "Never",
					"containers": []any{map[string]any{
						"name":  "fortio",
						"image": Image,
						"args":  fortioArgs(l, target, host),
					}},
				},
			},
		},
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("export: job: %w", err)
	}
	y, err := yaml.JSONToYAML(b)
	if err != nil {
		return nil, fmt.Errorf("export: job: %w", err)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "# The Job sends spec.load with fortio %s, from a pod with an Istio sidecar:\n", FortioVersion)
	out.WriteString("# VirtualService faults, retries and timeouts act in the caller's Envoy.\n")
	for _, line := range why {
		out.WriteString("# " + line + "\n")
	}
	out.WriteString("# Unless Istio runs it as a native sidecar, the sidecar keeps the pod\n")
	out.WriteString("# running once fortio ends; fortio's result is in its log:\n")
	fmt.Fprintf(&out, "#   kubectl logs -n %s job/%s -c fortio\n", o.Namespace, jobName(name))
	out.WriteString("# A Job runs once: delete it before applying the stream again.\n")
	out.Write(y)
	return out.Bytes(), nil
}

// targetOf is the URL fortio calls for load l and the Host header it
// sends ("" for the URL's own), with the lines that explain them. On the
// mesh, a short host name becomes the Service's cluster name in the
// namespace; through a Gateway (spec.load.via), the URL names the
// gateway's Service and Host the URL's host, as Faultline's own load
// enters its gateway listener.
func targetOf(doc *scenarios.Document, l *scenarios.Load, o Options) (target *url.URL, host string, why []string, err error) {
	u, err := url.Parse(l.URL)
	if err != nil {
		return nil, "", nil, fmt.Errorf("export: spec.load.url: %w", err)
	}
	written := u.Host
	if l.Via != "" && l.Via != scenarios.MeshGateway {
		svc, ns, how := gatewayService(doc, l.Via)
		u.Host = withPort(svc+"."+ns+".svc."+o.Domain, u.Port())
		why = append(why,
			fmt.Sprintf("spec.load.via is Gateway %s: fortio calls its Service %s in %s", l.Via, svc, ns),
			fmt.Sprintf("(%s) with Host %s.", how, written),
			"Edit the URL if your gateway's Service is another.")
		return u, written, why, nil
	}
	h := u.Hostname()
	if !strings.Contains(h, ".") && net.ParseIP(h) == nil {
		u.Host = withPort(h+"."+o.Namespace+".svc."+o.Domain, u.Port())
		why = append(why,
			fmt.Sprintf("Host %s of spec.load.url is Service %s of namespace %s: fortio calls", h, h, o.Namespace),
			fmt.Sprintf("it by its cluster name with Host %s, as Faultline's load does.", written))
		return u, written, why, nil
	}
	return u, "", nil, nil
}

// gatewayService names the Service in front of the workload that Gateway
// ref (name or namespace/name) selects, the way Istio's installation names
// it: selector istio: X is Service istio-X in istio-system
// (ingressgateway: istio-ingressgateway). how says what it was taken from.
func gatewayService(doc *scenarios.Document, ref string) (svc, ns, how string) {
	name := ref[strings.LastIndexByte(ref, '/')+1:] // namespace/name or name
	for _, g := range doc.Gateways {
		if g.Metadata.Name != name {
			continue
		}
		if v := g.Spec.Selector["istio"]; v != "" {
			return "istio-" + v, "istio-system", "from its selector istio: " + v + ", as Istio installs it"
		}
		if v := g.Spec.Selector["app"]; v != "" {
			return v, "istio-system", "from its selector app: " + v + ", assuming istio-system"
		}
	}
	return "istio-ingressgateway", "istio-system", "Istio's default ingress gateway: the Gateway's selector names no istio or app label"
}

func withPort(host, port string) string {
	if port == "" {
		return host
	}
	return net.JoinHostPort(host, port)
}

// fortioArgs are the arguments of `fortio load` that send load l to
// target, with Host header host when set. Every setting is explicit, so
// that fortio's own defaults (8 qps) do not apply.
func fortioArgs(l *scenarios.Load, target *url.URL, host string) []string {
	c := l.Connections
	if c == 0 {
		c = defaultConnections
	}
	if l.Requests > 0 && int64(c) > l.Requests {
		c = int(l.Requests) // as Faultline's load does: no idle connection
	}
	args := []string{"load",
		"-qps", strconv.FormatFloat(l.QPS, 'g', -1, 64), // 0: as fast as possible, in fortio's flag too
		"-c", strconv.Itoa(c),
	}
	switch {
	case l.Requests > 0:
		args = append(args, "-n", strconv.FormatInt(l.Requests, 10))
	case l.Duration != nil:
		args = append(args, "-t", l.Duration.String())
	default:
		args = append(args, "-t", defaultDuration)
	}
	if l.Timeout != nil {
		args = append(args, "-timeout", l.Timeout.String())
	}
	// A call the experiment fails on purpose must not stop the run at
	// its warm-up (Faultline's load allows initial errors too).
	args = append(args, "-allow-initial-errors")
	if l.Uniform {
		args = append(args, "-uniform")
	}
	if l.Jitter {
		args = append(args, "-jitter")
	}
	if l.Method != "" {
		args = append(args, "-X", l.Method)
	}
	if l.Body != "" {
		args = append(args, "-payload", l.Body)
	}
	if l.ContentType != "" {
		args = append(args, "-content-type", l.ContentType)
	}
	for _, k := range slices.Sorted(maps.Keys(l.Headers)) {
		if strings.EqualFold(k, "Host") {
			continue // Faultline's load sends the URL's host, whatever the headers say
		}
		args = append(args, "-H", k+": "+l.Headers[k])
	}
	if host != "" {
		args = append(args, "-H", "Host: "+host)
	}
	return append(args, target.String())
}

// jobName is the Job's name: "faultline-" and the experiment's name, as a
// DNS-1123 label (the Job controller labels its pods with it).
func jobName(experiment string) string {
	return trimLabel("faultline-" + strings.ReplaceAll(experiment, ".", "-"))
}

// trimLabel cuts s to what a label value holds: 63 characters, ending on
// a letter or digit.
func trimLabel(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.TrimRight(s, "-.")
}
