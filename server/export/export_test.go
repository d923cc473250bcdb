package export_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	yamlv3 "gopkg.in/yaml.v3"
	networking "istio.io/api/networking/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/faultline/faultline/internal/kubetest"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/export"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// exported is one document of an exported stream.
type exported struct {
	kind, apiVersion string
	raw              []byte         // the document as written, YAML
	json             []byte         // the same, JSON
	obj              map[string]any // the same, decoded
}

// split cuts an exported stream into its documents.
func split(t *testing.T, stream []byte) []exported {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var out []exported
	for {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("split the stream: %v", err)
		}
		j, err := yaml.YAMLToJSON(raw)
		if err != nil {
			t.Fatalf("document %d is not YAML: %v\n%s", len(out)+1, err, raw)
		}
		var obj map[string]any
		if err := json.Unmarshal(j, &obj); err != nil || obj == nil {
			t.Fatalf("document %d is not an object (%v):\n%s", len(out)+1, err, raw)
		}
		kind, _ := obj["kind"].(string)
		apiVersion, _ := obj["apiVersion"].(string)
		out = append(out, exported{kind: kind, apiVersion: apiVersion, raw: raw, json: j, obj: obj})
	}
}

type example struct {
	file string
	src  []byte
	doc  *scenarios.Document
}

// examples are the shipped scenarios, parsed.
func examples(t *testing.T) []example {
	t.Helper()
	ex, err := scenarios.Examples()
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) == 0 {
		t.Fatal("no shipped scenario")
	}
	out := make([]example, len(ex))
	for i, e := range ex {
		doc, err := scenarios.Parse(e.Source)
		if err != nil {
			t.Fatalf("%s: %v", e.File, err)
		}
		out[i] = example{file: e.File, src: e.Source, doc: doc}
	}
	return out
}

// exampleNamed is the shipped scenario in file.
func exampleNamed(t *testing.T, file string) example {
	t.Helper()
	for _, e := range examples(t) {
		if e.file == file {
			return e
		}
	}
	t.Fatalf("%s is not shipped", file)
	return example{}
}

func stream(t *testing.T, doc *scenarios.Document, o export.Options) []byte {
	t.Helper()
	b, err := export.Stream(doc, o)
	if err != nil {
		t.Fatalf("export %s: %v", doc.Name(), err)
	}
	return b
}

// istioSpecs are the official Go type of each Istio kind's spec.
var istioSpecs = map[string]func() proto.Message{
	"VirtualService":  func() proto.Message { return &networking.VirtualService{} },
	"DestinationRule": func() proto.Message { return &networking.DestinationRule{} },
	"Gateway":         func() proto.Message { return &networking.Gateway{} },
	"ServiceEntry":    func() proto.Message { return &networking.ServiceEntry{} },
}

var istioVersions = []string{"networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"}

// decodeSpec decodes an Istio resource's spec into its official type with
// protojson, rejecting unknown fields. Istio reads durations with Go's
// time.ParseDuration (istio.io/api's UnmarshalJSON goes through
// golang/protobuf's jsonpb), so "3m" is a duration to Istio and to the
// CRD's schema, but protojson takes only seconds ("180s"): those values
// are rewritten first, found by the message's descriptor.
func decodeSpec(kind string, spec any) (proto.Message, error) {
	msg := istioSpecs[kind]()
	v, err := protoDurations(spec, msg.ProtoReflect().Descriptor())
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return msg, protojson.UnmarshalOptions{}.Unmarshal(b, msg)
}

// protoDurations returns v, a JSON value of message md, with its
// google.protobuf.Duration values in protojson's form.
func protoDurations(v any, md protoreflect.MessageDescriptor) (any, error) {
	if md.FullName() == "google.protobuf.Duration" {
		s, ok := v.(string)
		if !ok {
			return v, nil // protojson says what is wrong
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, err
		}
		b, err := protojson.Marshal(durationpb.New(d))
		if err != nil {
			return nil, err
		}
		var out string
		return out, json.Unmarshal(b, &out)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	for k, val := range obj {
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(k))
		}
		if fd == nil {
			continue // protojson refuses it
		}
		var err error
		switch {
		case fd.IsMap():
			m, ok := val.(map[string]any)
			if vd := fd.MapValue(); ok && vd.Message() != nil {
				for mk, mv := range m {
					if m[mk], err = protoDurations(mv, vd.Message()); err != nil {
						return nil, err
					}
				}
			}
		case fd.Message() == nil:
		case fd.IsList():
			l, _ := val.([]any)
			for i, e := range l {
				if l[i], err = protoDurations(e, fd.Message()); err != nil {
					return nil, err
				}
			}
		default:
			if obj[k], err = protoDurations(val, fd.Message()); err != nil {
				return nil, err
			}
		}
	}
	return obj, nil
}

// TestExportShippedScenariosDecode exports every shipped scenario and
// decodes each document with the official Go types: the Istio resources'
// specs with istio.io/api (protojson, unknown fields refused), the Job
// with k8s.io/api's batch/v1 (unknown fields refused).
func TestExportShippedScenariosDecode(t *testing.T) {
	for _, e := range examples(t) {
		t.Run(e.file, func(t *testing.T) {
			out := stream(t, e.doc, export.Options{Namespace: "demo"})
			docs := split(t, out)
			objs, err := e.doc.Objects()
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != len(objs)+1 {
				t.Fatalf("%d documents, want the %d Istio resources and a Job:\n%s", len(docs), len(objs), out)
			}
			if !bytes.HasPrefix(out, []byte("# Experiment "+e.doc.Name()+", exported by Faultline for namespace demo")) {
				t.Errorf("the stream does not open with its comment:\n%s", out)
			}
			for i, d := range docs[:len(objs)] {
				if d.kind != objs[i].Kind {
					t.Errorf("document %d is a %s, want %s (apply order)", i+1, d.kind, objs[i].Kind)
					continue
				}
				if !slices.Contains(istioVersions, d.apiVersion) || d.apiVersion != objs[i].APIVersion {
					t.Errorf("%s %s: apiVersion %s, want %s as written", d.kind, objs[i].Name, d.apiVersion, objs[i].APIVersion)
				}
				md, _ := d.obj["metadata"].(map[string]any)
				if md["name"] != objs[i].Name || md["namespace"] != "demo" {
					t.Errorf("%s: metadata %v, want name %s in namespace demo", d.kind, md, objs[i].Name)
				}
				if _, err := decodeSpec(d.kind, d.obj["spec"]); err != nil {
					t.Errorf("%s %s: the spec does not decode as istio.io/api's %s: %v\n%s", d.kind, objs[i].Name, d.kind, err, d.raw)
				}
			}
			checkJob(t, e.doc, docs[len(docs)-1], "demo")
		})
	}
}

// checkJob decodes the Job into batchv1.Job and checks it against the
// experiment's load.
func checkJob(t *testing.T, doc *scenarios.Document, d exported, ns string) *batchv1.Job {
	t.Helper()
	if d.apiVersion != "batch/v1" || d.kind != "Job" {
		t.Fatalf("the last document is %s %s, want batch/v1 Job", d.apiVersion, d.kind)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(d.raw, &job); err != nil {
		t.Fatalf("the Job does not decode as k8s.io/api's batch/v1 Job: %v\n%s", err, d.raw)
	}
	labels := map[string]string{"app.kubernetes.io/managed-by": "faultline", "faultline.dev/experiment": doc.Name()}
	name := "faultline-" + strings.ReplaceAll(doc.Name(), ".", "-") // a DNS-1123 label
	if job.Namespace != ns || job.Name != name || !reflect.DeepEqual(job.Labels, labels) {
		t.Errorf("Job %s/%s labels %v, want %s in %s labelled %v", job.Namespace, job.Name, job.Labels, name, ns, labels)
	}
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 {
		t.Errorf("backoffLimit %v, want 0", job.Spec.BackoffLimit)
	}
	pod := job.Spec.Template
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q, want Never", pod.Spec.RestartPolicy)
	}
	if pod.Labels["sidecar.istio.io/inject"] != "true" {
		t.Errorf("the pod asks for no sidecar: labels %v", pod.Labels)
	}
	if len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Image != "fortio/fortio:"+export.FortioVersion {
		t.Fatalf("containers %+v, want one running fortio/fortio:%s", pod.Spec.Containers, export.FortioVersion)
	}
	args := pod.Spec.Containers[0].Args
	l := doc.Experiment.Spec.Load
	if len(args) == 0 || args[0] != "load" {
		t.Fatalf("args %q, want fortio load", args)
	}
	flags := flagsOf(args[1 : len(args)-1])
	want := map[string]string{"-qps": jsonNumber(l.QPS)}
	if l.Requests > 0 {
		want["-n"] = jsonNumber(l.Requests)
	} else {
		want["-t"] = "5s"
		if l.Duration != nil {
			want["-t"] = l.Duration.String()
		}
	}
	if l.Timeout != nil {
		want["-timeout"] = l.Timeout.String()
	}
	for k, v := range want {
		if got := flags[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s %q, want %s (args %q)", k, got, v, args)
		}
	}
	for k, v := range l.Headers {
		if strings.EqualFold(k, "Host") {
			continue // the URL's host, as Faultline's load sends
		}
		if !slices.Contains(flags["-H"], k+": "+v) {
			t.Errorf("no -H %q in %q", k+": "+v, args)
		}
	}
	if !strings.HasPrefix(args[len(args)-1], "http://") {
		t.Errorf("the last argument %q is not the target URL", args[len(args)-1])
	}
	return &job
}

// flagsOf reads fortio's "-flag value" pairs; a flag without a value
// (the next starts with '-' too, or none follows) gets "".
func flagsOf(args []string) map[string][]string {
	out := map[string][]string{}
	for i := 0; i < len(args); i++ {
		name, v := args[i], ""
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			v = args[i+1]
			i++
		}
		out[name] = append(out[name], v)
	}
	return out
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestExportRoundTrip puts the exported Istio resources back beside the
// experiment (its own Experiment document, the namespace taken out) and
// parses the stream: every VirtualService, DestinationRule, Gateway and
// ServiceEntry is the original's.
func TestExportRoundTrip(t *testing.T) {
	for _, e := range examples(t) {
		t.Run(e.file, func(t *testing.T) {
			docs := split(t, stream(t, e.doc, export.Options{Namespace: "demo"}))
			back := [][]byte{experimentOnly(t, e.src)}
			for _, d := range docs {
				if d.kind == "Job" {
					continue
				}
				md := d.obj["metadata"].(map[string]any)
				delete(md, "namespace")
				b, err := json.Marshal(d.obj)
				if err != nil {
					t.Fatal(err)
				}
				back = append(back, b)
			}
			src := bytes.Join(back, []byte("\n---\n"))
			got, err := scenarios.Parse(src)
			if err != nil {
				t.Fatalf("the exported resources beside the experiment do not parse: %v\n%s", err, src)
			}
			for _, c := range []struct {
				kind      string
				got, want any
			}{
				{"VirtualServices", got.VirtualServices, e.doc.VirtualServices},
				{"DestinationRules", got.DestinationRules, e.doc.DestinationRules},
				{"Gateways", got.Gateways, e.doc.Gateways},
				{"ServiceEntries", got.ServiceEntries, e.doc.ServiceEntries},
			} {
				if !reflect.DeepEqual(c.got, c.want) {
					g, _ := json.MarshalIndent(c.got, "", "  ")
					w, _ := json.MarshalIndent(c.want, "", "  ")
					t.Errorf("%s differ after the round trip:\ngot  %s\nwant %s", c.kind, g, w)
				}
			}
		})
	}
}

// experimentOnly is the Experiment document of an experiment's stream,
// without spec.traffic (whose resources the export writes beside it).
func experimentOnly(t *testing.T, src []byte) []byte {
	t.Helper()
	dec := yamlv3.NewDecoder(bytes.NewReader(src))
	for {
		var n yamlv3.Node
		if err := dec.Decode(&n); err != nil {
			t.Fatalf("no Experiment document: %v", err)
		}
		if len(n.Content) == 0 {
			continue
		}
		var head struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Traffic []any `yaml:"traffic"`
			} `yaml:"spec"`
		}
		if err := n.Decode(&head); err != nil || head.Kind != "Experiment" {
			continue
		}
		root := n.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != "spec" {
				continue
			}
			spec := root.Content[i+1]
			for j := 0; j+1 < len(spec.Content); j += 2 {
				if spec.Content[j].Value == "traffic" {
					spec.Content = slices.Delete(spec.Content, j, j+2)
					break
				}
			}
		}
		b, err := yamlv3.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// parse parses an experiment written for a test.
func parse(t *testing.T, src string) *scenarios.Document {
	t.Helper()
	doc, err := scenarios.Parse([]byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return doc
}

// jobArgs exports doc and returns the Job's fortio arguments.
func jobArgs(t *testing.T, doc *scenarios.Document, o export.Options) []string {
	t.Helper()
	docs := split(t, stream(t, doc, o))
	job := checkJob(t, doc, docs[len(docs)-1], o.Namespace)
	return job.Spec.Template.Spec.Containers[0].Args
}

func TestExportJobArgs(t *testing.T) {
	const head = "apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata: {name: args}\nspec:\n  services:\n  - {host: reviews, port: 9080, endpoints: [{address: 127.0.0.1:9080}]}\n"
	cases := []struct {
		name, load string
		o          export.Options
		want       []string
	}{{
		name: "a short host becomes the Service's cluster name; the URL's host stays the Host",
		load: `{url: "http://reviews:9080/reviews/0?x=1", qps: 20.5, connections: 8, duration: 90s, timeout: 2s, uniform: true, jitter: true}`,
		o:    export.Options{Namespace: "bookinfo", Domain: "corp.example"},
		want: []string{"load", "-qps", "20.5", "-c", "8", "-t", "1m30s", "-timeout", "2s", "-allow-initial-errors", "-uniform", "-jitter",
			"-H", "Host: reviews:9080", "http://reviews.bookinfo.svc.corp.example:9080/reviews/0?x=1"},
	}, {
		name: "no qps is as fast as possible, no length fortio's 5s, connections no more than requests",
		load: `{url: "http://reviews:9080/", requests: 3}`,
		o:    export.Options{Namespace: "demo"},
		want: []string{"load", "-qps", "0", "-c", "3", "-n", "3", "-allow-initial-errors", "-H", "Host: reviews:9080", "http://reviews.demo.svc.cluster.local:9080/"},
	}, {
		name: "defaults",
		load: `{url: "http://reviews:9080/"}`,
		o:    export.Options{Namespace: "demo"},
		want: []string{"load", "-qps", "0", "-c", "4", "-t", "5s", "-allow-initial-errors", "-H", "Host: reviews:9080", "http://reviews.demo.svc.cluster.local:9080/"},
	}, {
		name: "method, body, content type and headers, in name order; a host with dots stays",
		load: `{url: "http://reviews.other.svc.cluster.local:9080/r", method: PUT, body: '{"a":1}', contentType: application/json, headers: {x-b: "2", end-user: jason, Host: ignored}, requests: 10}`,
		o:    export.Options{Namespace: "demo"},
		want: []string{"load", "-qps", "0", "-c", "4", "-n", "10", "-allow-initial-errors", "-X", "PUT", "-payload", `{"a":1}`, "-content-type", "application/json",
			"-H", "end-user: jason", "-H", "x-b: 2", "http://reviews.other.svc.cluster.local:9080/r"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := parse(t, head+"  load: "+c.load+"\n")
			if got := jobArgs(t, doc, c.o); !slices.Equal(got, c.want) {
				t.Errorf("args\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestExportLoadThroughAGateway(t *testing.T) {
	ingress := exampleNamed(t, "ingress-gateway-paths.yaml")
	out := stream(t, ingress.doc, export.Options{Namespace: "demo", Domain: "corp.example"})
	args := jobArgs(t, ingress.doc, export.Options{Namespace: "demo", Domain: "corp.example"})
	want := []string{"-H", "Host: httpbin.example.com", "http://istio-ingressgateway.istio-system.svc.corp.example/status/200"}
	if !slices.Equal(args[len(args)-3:], want) {
		t.Errorf("args %q, want them to end with %q", args, want)
	}
	if !strings.Contains(string(out), "# spec.load.via is Gateway httpbin-gateway: fortio calls its Service istio-ingressgateway in istio-system") {
		t.Errorf("no comment says the load enters through the gateway:\n%s", out)
	}
}

// TestExportLeavesOutFaultlineFields exports an experiment that sets
// every field only Faultline acts on: none is in the stream, and the
// comment at its top names each.
func TestExportLeavesOutFaultlineFields(t *testing.T) {
	doc := parse(t, `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: everything, description: "all of it"}
spec:
  istioVersion: "1.8"
  seed: 42
  environment: staging
  schedule: {cron: "@hourly"}
  services:
  - {host: reviews, port: 9080, endpoints: [{address: 127.0.0.1:9080}]}
  load: {url: "http://reviews:9080/", requests: 10}
  abort:
  - {metric: error_ratio, op: ">", value: 0.5}
  hypothesis:
  - {metric: error_ratio, op: "==", value: 0}
  traffic:
  - apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: reviews, description: "a note", namespace: elsewhere}
    spec: {host: reviews}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, description: "another note"}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
`)
	out := string(stream(t, doc, export.Options{Namespace: "demo"}))
	comment, body, _ := strings.Cut(out, "\napiVersion:")
	for _, want := range []string{
		"# - spec.services: binds reviews to endpoints",
		"# - spec.istioVersion: ",
		"# - spec.hypothesis: graded by Faultline from its own run (error_ratio == 0)",
		"# - spec.abort: ",
		"# - spec.schedule: ",
		"# - spec.seed: ",
		"# - spec.environment: names a Faultline environment (staging)",
		"# - DestinationRule reviews: metadata.description: ",
		"# - VirtualService reviews: metadata.description: ",
		"# DestinationRule reviews stays in namespace elsewhere, as written.",
	} {
		if !strings.Contains(comment, want) {
			t.Errorf("the comment lacks %q:\n%s", want, comment)
		}
	}
	for _, gone := range []string{"description: a note", "description: another note", "istioVersion", "hypothesis", "seed", "schedule", "environment: staging"} {
		if strings.Contains(body, gone) {
			t.Errorf("the stream still holds %q:\n%s", gone, body)
		}
	}
	docs := split(t, []byte(out))
	if len(docs) != 3 || docs[0].kind != "DestinationRule" || docs[1].kind != "VirtualService" {
		t.Fatalf("documents %v, want the DestinationRule of spec.traffic, the VirtualService and the Job", docs)
	}
	if ns := docs[0].obj["metadata"].(map[string]any)["namespace"]; ns != "elsewhere" {
		t.Errorf("the DestinationRule's namespace is %v, want elsewhere as written", ns)
	}
	if ns := docs[1].obj["metadata"].(map[string]any)["namespace"]; ns != "demo" {
		t.Errorf("the VirtualService's namespace is %v, want demo", ns)
	}
	job := checkJob(t, doc, docs[2], "demo")
	if job.Annotations["faultline.dev/description"] != "all of it" {
		t.Errorf("the Job's annotations %v lack the experiment's description", job.Annotations)
	}
}

func TestExportRefusesBadOptions(t *testing.T) {
	doc := examples(t)[0].doc
	for _, c := range []struct {
		o     export.Options
		field string
	}{
		{export.Options{Namespace: "Demo"}, "namespace"},
		{export.Options{Namespace: "a.b"}, "namespace"},
		{export.Options{Domain: "cluster..local"}, "domain"},
		{export.Options{Domain: "Cluster.local"}, "domain"},
	} {
		_, err := export.Stream(doc, c.o)
		var oe *export.OptionError
		if !errors.As(err, &oe) || oe.FieldPath() != c.field {
			t.Errorf("%+v: error %v, want one on %s", c.o, err, c.field)
		}
	}
}

// TestExportFortioVersionIsGoMods checks that the Job runs the fortio
// release Faultline's own load is built with.
func TestExportFortioVersionIsGoMods(t *testing.T) {
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "fortio.org/fortio" {
			if f[1] != "v"+export.FortioVersion {
				t.Errorf("go.mod requires fortio %s, the Job runs fortio/fortio:%s", f[1], export.FortioVersion)
			}
			return
		}
	}
	t.Fatal("go.mod requires no fortio.org/fortio")
}

// The faults of spec.faults have no Istio equivalent: each is named in
// the comment and in Warnings, and the exported resources stay what
// Istio's own types decode.
func TestExportLeavesOutExperimentFaults(t *testing.T) {
	doc := parse(t, `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: faults}
spec:
  services:
  - {host: reviews, port: 9080, endpoints: [{address: 127.0.0.1:9080, labels: {version: v1}}, {address: 127.0.0.1:9081, labels: {version: v2}}]}
  load: {url: "http://reviews:9080/", requests: 10}
  faults:
  - {name: flaky, virtualService: reviews, on: attempts, abort: {httpStatus: 503, percentage: {value: 50}}}
  - {virtualService: reviews, route: main, on: shadows, delay: {fixedDelay: 1s, percentage: {value: 100}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: main
    retries: {attempts: 3, retryOn: 5xx}
    mirror: {host: reviews, subset: v2}
    route: [{destination: {host: reviews, subset: v1}}]
`)
	out := string(stream(t, doc, export.Options{}))
	comment, body, _ := strings.Cut(out, "\napiVersion:")
	wants := []string{
		"spec.faults[0] (flaky): a fault on each upstream attempt, retries included, of every http rule of VirtualService reviews has no Istio equivalent",
		`spec.faults[1]: a fault on the mirrored copies only of route "main" of VirtualService reviews has no Istio equivalent`,
	}
	for _, want := range wants {
		if !strings.Contains(comment, "# - "+want) {
			t.Errorf("the comment lacks %q:\n%s", want, comment)
		}
	}
	if w := export.Warnings(doc); len(w) != 2 || !strings.HasPrefix(w[0], wants[0]) || !strings.HasPrefix(w[1], wants[1]) {
		t.Errorf("warnings %q", w)
	}
	if strings.Contains(body, "flaky") || strings.Contains(body, "on: attempts") || strings.Contains(body, "shadows") {
		t.Errorf("the stream holds the faults:\n%s", body)
	}
	for _, d := range split(t, []byte(out)) {
		if d.kind == "VirtualService" || d.kind == "DestinationRule" {
			if _, err := decodeSpec(d.kind, d.obj["spec"]); err != nil {
				t.Errorf("%s does not decode as Istio's type: %v", d.kind, err)
			}
		}
	}
}
