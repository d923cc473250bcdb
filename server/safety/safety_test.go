package safety_test

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/safety"
)

const doc = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: safety}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin, labels: {version: v1}}]
  load: {url: "http://httpbin:8000/status/200", connections: 2, requests: 20}
`

func parse(t *testing.T, src string) *scenarios.Document {
	t.Helper()
	d, err := scenarios.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCheckLimitsNamesTheField(t *testing.T) {
	d := parse(t, strings.Replace(doc, "connections: 2", "connections: 500", 1))
	err := safety.CheckLimits(d.Experiment.Spec.Load, safety.DefaultLimits)
	if le, ok := err.(*safety.LimitError); !ok || le.FieldPath() != "spec.load.connections" {
		t.Errorf("err = %v", err)
	}
	d = parse(t, strings.Replace(doc, "requests: 20", "duration: 1h", 1))
	err = safety.CheckLimits(d.Experiment.Spec.Load, safety.Limits{MaxDuration: 10 * time.Minute})
	if le, ok := err.(*safety.LimitError); !ok || le.FieldPath() != "spec.load.duration" {
		t.Errorf("err = %v", err)
	}
}

func TestAllowList(t *testing.T) {
	allow, err := safety.AllowList([]string{"10.0.0.0/8", "192.0.2.7", "api.internal"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{"127.0.0.1:80", "[::1]:80", "localhost:1", "10.2.3.4:80", "192.0.2.7:443", "api.internal:80"} {
		if err := allow(ok); err != nil {
			t.Errorf("allow(%s) = %v", ok, err)
		}
	}
	for _, bad := range []string{"192.0.2.8:80", "11.0.0.1:80", "example.com:80", "nonsense"} {
		if err := allow(bad); err == nil {
			t.Errorf("allow(%s) = nil, want refused", bad)
		}
	}
	if _, err := safety.AllowList([]string{"not a host!"}); err == nil {
		t.Error("a bad allow-list entry is accepted")
	}
	d := parse(t, strings.Replace(doc, "{demo: httpbin, labels: {version: v1}}", "{address: 192.0.2.8:80}", 1))
	err = safety.CheckTargets(d, allow)
	if te, ok := err.(*safety.TargetError); !ok || te.FieldPath() != "spec.services[0].endpoints[0].address" {
		t.Errorf("CheckTargets = %v", err)
	}
}
