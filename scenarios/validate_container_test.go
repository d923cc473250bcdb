package scenarios_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

func containerDoc(endpoints, actions string) string {
	return `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: containers}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints:
` + endpoints + `
  load: {url: "http://httpbin:8000/get", duration: 4s}
` + actions
}

func TestContainerEndpointsValidate(t *testing.T) {
	d, err := scenarios.Parse([]byte(containerDoc(
		"    - container: {build: {context: ./target, dockerfile: Dockerfile}, port: 8080, env: {A: b}, cmd: [x], wait: {path: /healthz, timeout: 10s}}\n"+
			"    - container: {image: faultline-demo:local, port: 8080}",
		"  actions:\n  - {at: 1s, container: httpbin/0, action: pause}\n  - {at: 2s, container: httpbin/1, action: kill}\n")))
	if err != nil {
		t.Fatal(err)
	}
	c := d.Experiment.Spec.Services[0].Endpoints[0].Container
	if c == nil || c.Build.Context != "./target" || c.Port != 8080 || c.Wait.Timeout.D().Seconds() != 10 {
		t.Errorf("container = %+v", c)
	}
	if a := d.Experiment.Spec.Actions; len(a) != 2 || a[1].Action != "kill" || a[0].At.D().Seconds() != 1 {
		t.Errorf("actions = %+v", a)
	}
}

func TestContainerProblemsNameTheField(t *testing.T) {
	cases := []struct{ endpoints, actions, path, msg string }{
		{"    - container: {image: a, build: {context: .}, port: 8080}", "", "spec.services[0].endpoints[0].container", "not both"},
		{"    - container: {port: 8080}", "", "spec.services[0].endpoints[0].container", "needs build"},
		{"    - container: {image: a}", "", "spec.services[0].endpoints[0].container.port", "is required"},
		{"    - container: {build: {dockerfile: D}, port: 1}", "", "spec.services[0].endpoints[0].container.build.context", "is required"},
		{"    - container: {build: {context: ., dockerfile: ../D}, port: 1}", "", "spec.services[0].endpoints[0].container.build.dockerfile", "inside the build context"},
		{"    - container: {image: a, port: 1, wait: {path: healthz}}", "", "spec.services[0].endpoints[0].container.wait.path", "start with /"},
		{"    - {address: 127.0.0.1:1, container: {image: a, port: 1}}", "", "spec.services[0].endpoints[0]", "one of address, demo or container"},
		{"    - container: {image: a, port: 1}", "  actions:\n  - {at: 1s, container: httpbin, action: explode}\n", "spec.actions[0].action", "must be one of"},
		{"    - container: {image: a, port: 1}", "  actions:\n  - {container: httpbin, action: pause}\n", "spec.actions[0].at", "is required"},
		{"    - container: {image: a, port: 1}", "  actions:\n  - {at: 1s, container: nosuch, action: pause}\n", "spec.actions[0].container", "names no service"},
		{"    - container: {image: a, port: 1}", "  actions:\n  - {at: 1s, container: httpbin/3, action: pause}\n", "spec.actions[0].container", "not a container endpoint"},
		{"    - container: {image: a, port: 1}\n    - container: {image: a, port: 1}", "  actions:\n  - {at: 1s, container: httpbin, action: pause}\n", "spec.actions[0].container", "several container endpoints"},
		{"    - address: 127.0.0.1:1", "  actions:\n  - {at: 1s, container: httpbin, action: pause}\n", "spec.actions[0].container", "no container endpoint"},
	}
	for _, c := range cases {
		_, err := scenarios.Parse([]byte(containerDoc(c.endpoints, c.actions)))
		var invalid *scenarios.InvalidError
		if !errors.As(err, &invalid) {
			t.Errorf("%s: err = %v, want invalid", c.path, err)
			continue
		}
		found := false
		for _, p := range invalid.Problems {
			if p.Path == c.path && strings.Contains(p.Message, c.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("want %s %q, got %v", c.path, c.msg, invalid.Problems)
		}
	}
}
