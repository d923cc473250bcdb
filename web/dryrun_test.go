package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/server"
)

// halfAborted aborts half the calls to the built-in httpbin, by a named
// rule.
const halfAborted = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: half-aborted
spec:
  seed: 2
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - demo: httpbin
  load:
    url: http://httpbin:8000/get
    connections: 2
    qps: 50
    duration: 2s
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts: [httpbin]
  http:
  - name: abort-half
    fault:
      abort:
        httpStatus: 503
        percentage: {value: 50}
    route:
    - destination: {host: httpbin}
`

// The experiment page's dry run: the routes table names the rule each
// sample request hits, the targets and predictions are listed, and no
// run is created.
func TestDashboardDryRun(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{})
	b := newBrowser(t, base)
	var exp storedJSON
	if code := postYAML(t, base+"/api/v1/experiments", halfAborted, &exp); code != http.StatusCreated {
		t.Fatalf("create the experiment: %d", code)
	}
	runSteps(t, b, []step{
		{"dry run shows the routes, targets and predictions and starts nothing", func(t *testing.T, b *browser) {
			b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/experiments/%d", base, exp.ID)))
			b.waitJS("the experiment", `document.querySelector("h1")?.textContent === "half-aborted" && !!document.getElementById("dry-run")`, 10*time.Second)
			if !evalJS[bool](b, `document.getElementById("dry-run").closest(".page-actions") === document.getElementById("run-now").closest(".page-actions")`) {
				t.Error("the Dry run button is not beside Run now")
			}
			b.do(chromedp.Click(chromedp.ID("dry-run")))
			b.waitJS("the dry run's routes", `document.querySelectorAll("#dry-routes tbody tr").length > 0 || !!document.getElementById("dry-run-error")`, 15*time.Second)
			if msg := evalJS[string](b, `document.getElementById("dry-run-error")?.textContent ?? ""`); msg != "" {
				t.Fatalf("the dry run failed: %s", msg)
			}
			type route struct {
				Source  string `json:"source"`
				Hit     string `json:"hit"`
				HitName string `json:"hitName"`
			}
			routes := evalJS[[]route](b, `[...document.querySelectorAll("#dry-routes tbody tr")].map((tr) => ({source: tr.dataset.source, hit: tr.dataset.hit, hitName: tr.dataset.hitName}))`)
			// The load's own request, then one sample per rule: both hit
			// the VirtualService's one rule.
			if len(routes) != 2 {
				t.Fatalf("%d route rows %+v, want the load's and the rule's sample", len(routes), routes)
			}
			if routes[0].Source != "load" {
				t.Errorf("the first row comes from %q, want the load", routes[0].Source)
			}
			for _, r := range routes {
				if r.Hit != "httpbin/0" || r.HitName != "abort-half" {
					t.Errorf("row from %s hits %q (%q), want httpbin/0 (abort-half)", r.Source, r.Hit, r.HitName)
				}
			}
			hits := evalJS[string](b, `[...document.querySelectorAll("#dry-routes tbody td.dry-hit")].map((td) => td.textContent).join("\n")`)
			if strings.Count(hits, "httpbin/0 abort-half") != 2 {
				t.Errorf("the Hits column reads %q, want the rule named on both rows", hits)
			}
			if faults := evalJS[string](b, `document.querySelector("#dry-routes tbody tr").children[5].textContent`); !strings.Contains(faults, "abort 503 50 %") {
				t.Errorf("the load's row shows the faults %q, want the rule's abort", faults)
			}
			if got := evalJS[string](b, `document.querySelector("#dry-targets tbody tr")?.dataset.service ?? ""`); got != "httpbin" {
				t.Errorf("the targets list %q first, want httpbin", got)
			}
			if got := b.count(`#dry-predictions tbody tr[data-metric="error_ratio"]`); got != 1 {
				t.Errorf("%d error_ratio predictions in the dry run, want 1", got)
			}
			// A dry run observes nothing: no observed or within column.
			if got := evalJS[int](b, `document.querySelectorAll("#dry-predictions thead th").length`); got != 6 {
				t.Errorf("the dry run's predictions have %d columns, want 6 (no observation)", got)
			}
			if got := b.count("#dry-predictions svg.chart-interval circle.observed"); got != 0 {
				t.Errorf("%d observed points in a dry run", got)
			}
			var runs struct {
				Total int `json:"total"`
			}
			getJSON(t, base+"/api/v1/runs", &runs)
			if runs.Total != 0 {
				t.Errorf("the dry run created %d runs", runs.Total)
			}
			if got := b.count("#history-table tbody tr"); got != 0 {
				t.Errorf("the experiment's run history lists %d runs after a dry run", got)
			}
			b.checkNames()
			b.do(chromedp.Click(chromedp.ID("dry-run-close")))
			b.waitJS("the dry run to close", `!document.getElementById("dry-run-card")`, 5*time.Second)
		}},
	})
}

// onAttempts aborts 30 % of the upstream attempts of httpbin's one rule
// (spec.faults on attempts), not the requests.
const onAttempts = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: on-attempts
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - demo: httpbin
  load:
    url: http://httpbin:8000/get
    connections: 2
    qps: 50
    duration: 1s
  faults:
  - virtualService: httpbin
    on: attempts
    abort:
      httpStatus: 503
      percentage: {value: 30}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts: [httpbin]
  http:
  - route:
    - destination: {host: httpbin}
`

// A fault on each upstream attempt reads as such in the dry run's route
// table and in the run's injection accounting.
func TestDashboardDryRunAndInjectionOnAttempts(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{})
	b := newBrowser(t, base)
	var exp storedJSON
	if code := postYAML(t, base+"/api/v1/experiments", onAttempts, &exp); code != http.StatusCreated {
		t.Fatalf("create the experiment: %d", code)
	}
	runSteps(t, b, []step{
		{"the dry run's faults say on each attempt", func(t *testing.T, b *browser) {
			b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/experiments/%d", base, exp.ID)))
			b.waitJS("the experiment", `!!document.getElementById("dry-run")`, 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("dry-run")))
			b.waitJS("the dry run's routes", `document.querySelectorAll("#dry-routes tbody tr").length > 0`, 15*time.Second)
			if faults := evalJS[string](b, `document.querySelector('#dry-routes tbody tr[data-source="load"]').children[5].textContent`); faults != "abort 503 30 % on each attempt" {
				t.Errorf("the load's row shows the faults %q", faults)
			}
		}},
		{"the run's injection row says abort on each attempt", func(t *testing.T, b *browser) {
			runID := runExample(t, base, exp.ID)
			b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/runs/%d", base, runID)))
			b.waitJS("the injection accounting", `document.querySelectorAll("#injection tbody tr").length > 0`, 10*time.Second)
			kinds := evalJS[[]string](b, `[...document.querySelectorAll("#injection tbody td.injection-kind")].map((td) => td.dataset.kind + ": " + td.textContent)`)
			if len(kinds) != 1 || kinds[0] != "attempt-abort: abort on each attempt" {
				t.Errorf("injection kinds shown %q, want attempt-abort as \"abort on each attempt\"", kinds)
			}
		}},
	})
}
