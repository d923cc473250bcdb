package web_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/kubetest"
	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server"
)

// meshEnvironment is a mesh environment on namespace ns, reached with the
// kubeconfig file named kubeconfig in the server's kubeconfig directory,
// its runs' load sent to entry.
func meshEnvironment(description, kubeconfig, ns, entry string) string {
	return fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata:
  name: staging
  description: %q
spec:
  kubernetes: {kubeconfig: %s, namespace: %s, entry: %q}
`, description, kubeconfig, ns, entry)
}

// meshExperiment aborts half of reviews' calls through the cluster's
// Istio, with a DestinationRule for the subset it routes to.
const meshExperiment = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: reviews-abort}
spec:
  environment: staging
  load: {url: "http://reviews:9080/", qps: 20, duration: 3s}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    route: [{destination: {host: reviews, subset: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v2, labels: {version: v2}}]
`

// meshReportJSON is the part of a mesh run's report the test reads.
type meshReportJSON struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
	Report struct {
		Mesh *struct {
			Namespace string `json:"namespace"`
			Resources []struct {
				Kind            string `json:"kind"`
				Name            string `json:"name"`
				Action          string `json:"action"`
				State           string `json:"state"`
				AppliedVersion  string `json:"appliedVersion"`
				RestoredVersion string `json:"restoredVersion"`
			} `json:"resources"`
		} `json:"mesh"`
	} `json:"report"`
}

// meshStage is a server whose environment staging is a mesh environment
// on a fresh namespace of a real API server with Istio's CRDs, with the
// experiment that runs there, and a page on the server.
type meshStage struct {
	kc                    *kubetest.Cluster
	ns, kubeconfig, entry string
	base, envHash         string
	env                   environmentJSON
	exp                   storedJSON
	b                     *browser
}

func withMeshEnvironment(t *testing.T) meshStage {
	t.Helper()
	needChromium(t)
	m := meshStage{kc: kubetest.Get(t)}
	m.ns = m.kc.Namespace(t)
	m.kubeconfig = m.kc.Kubeconfig(t, kubetest.Editor)
	m.base, _ = testserver.Start(t, server.Config{KubeconfigDir: filepath.Dir(m.kubeconfig)})
	m.entry = serveHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "reviews") }))
	m.b = newBrowser(t, m.base)
	if code := postYAML(t, m.base+"/api/v1/environments", meshEnvironment("reviews and ratings in the staging cluster", filepath.Base(m.kubeconfig), m.ns, m.entry), &m.env); code != http.StatusCreated {
		t.Fatalf("create the mesh environment: %d", code)
	}
	if code := postYAML(t, m.base+"/api/v1/experiments", meshExperiment, &m.exp); code != http.StatusCreated {
		t.Fatalf("create the experiment: %d", code)
	}
	m.envHash = fmt.Sprintf("#/environments/%d", m.env.ID)
	return m
}

// A mesh environment in the dashboard, on a real API server with Istio's
// CRDs: the list and the environment's page name the cluster and the
// namespace (and nothing of listeners, graph or access log).
func TestDashboardMeshEnvironment(t *testing.T) {
	m := withMeshEnvironment(t)
	base, kc, ns, entry, envHash := m.base, m.kc, m.ns, m.entry, m.envHash
	runSteps(t, m.b, []step{
		{"the list names the namespace and says the API server answers", func(t *testing.T, b *browser) {
			b.do(chromedp.Navigate(base + "/ui/#/environments"))
			row := `#environments-table tr[data-name="staging"]`
			b.waitJS("staging reachable", fmt.Sprintf(`document.querySelector('%s .env-state .badge')?.dataset.state === "reachable"`, row), 10*time.Second)
			if got, want := evalJS[string](b, fmt.Sprintf(`document.querySelector('%s .env-egress').textContent`, row)), "Kubernetes · namespace "+ns; got != want {
				t.Errorf("the egress column shows %q, want %q", got, want)
			}
			b.checkNames()
			b.checkNoStray()
		}},
		{"the page shows the cluster, the namespace and the entry, and no listeners", func(t *testing.T, b *browser) {
			b.do(chromedp.Navigate(base + "/ui/" + envHash))
			b.waitJS("staging's page", `document.querySelector("h1")?.textContent === "staging" && !!document.getElementById("env-cluster")`, 10*time.Second)
			if got, want := evalJS[string](b, `document.getElementById("env-kind").textContent`), "Kubernetes · namespace "+ns; got != want {
				t.Errorf("the badge says %q, want %q", got, want)
			}
			for id, want := range map[string]string{"env-namespace": ns, "env-cluster-server": kc.URL, "env-cluster-context": kubetest.ContextName} {
				if got := evalJS[string](b, fmt.Sprintf(`document.getElementById(%q).textContent`, id)); got != want {
					t.Errorf("#%s says %q, want %q", id, got, want)
				}
			}
			if got := evalJS[string](b, `document.querySelector("#env-entry code").textContent`); got != entry {
				t.Errorf("the entry shows %q, want %s", got, entry)
			}
			b.waitJS("the API server reachable", `document.getElementById("env-reachable").dataset.state === "reachable" && /checked \d\d:\d\d:\d\d/.test(document.getElementById("env-checked")?.textContent)`, 10*time.Second)
			if got := evalJS[string](b, `document.querySelector("#env-state .badge").textContent`); got != "reachable" {
				t.Errorf("the header's state says %q, want reachable", got)
			}
			if got := evalJS[string](b, `document.querySelector("#holder-state").dataset.kind`); got != "baseline" {
				t.Errorf("holder %q, want none", got)
			}
			if !evalJS[bool](b, `!!document.getElementById("env-held-none") && document.getElementById("env-warnings").hidden`) {
				t.Error("the page does not say nothing is held, or warns while the API server answers")
			}
			for _, sel := range []string{"#env-listeners", "#env-graph", "#env-log", "#env-counters", "#overlay-card", "#env-endpoints", "#env-baseline"} {
				if n := b.count(sel); n != 0 {
					t.Errorf("a mesh environment's page has %s", sel)
				}
			}
			b.checkNames()
			b.checkNoStray()
		}},
	})
}

// A run on a mesh environment: while it holds the environment, the page
// lists the resources the run applied there; after the run, the run's
// page shows the cluster changes, each put back, and no proxy counters,
// and the environment holds nothing again.
func TestDashboardMeshEnvironmentRun(t *testing.T) {
	m := withMeshEnvironment(t)
	base, ns, kubeconfig, entry, envHash, env, exp := m.base, m.ns, m.kubeconfig, m.entry, m.envHash, m.env, m.exp
	var runID int64
	m.b.do(chromedp.Navigate(base + "/ui/" + envHash))
	m.b.waitJS("staging's page", `document.querySelector("h1")?.textContent === "staging" && !!document.getElementById("env-cluster")`, 10*time.Second)
	runSteps(t, m.b, []step{
		{"while a run holds it, the page lists what the run applied", func(t *testing.T, b *browser) {
			var run runJSON
			if code := sendJSON(t, http.MethodPost, fmt.Sprintf("%s/api/v1/experiments/%d/runs", base, exp.ID), "", &run); code != http.StatusAccepted {
				t.Fatalf("start the run: %d", code)
			}
			runID = run.ID
			// Created by the run (the namespace had neither), in apply order.
			want := "DestinationRule reviews created applied|VirtualService reviews created applied"
			rows := `[...document.querySelectorAll("#env-held-table tbody tr")].map((tr) => [tr.dataset.kind, tr.dataset.name, tr.dataset.action, tr.querySelector(".mesh-state").textContent].join(" ")).join("|")`
			b.waitJS("the held resources", fmt.Sprintf(`document.querySelector("#holder-state")?.dataset.kind === "run" && document.getElementById("holder-run-link")?.textContent === "Run #%d" && %s === %q`, runID, rows, want), 10*time.Second)
			b.screenshot("environment-mesh.png")
			b.checkNames()
			b.checkNoStray()
		}},
		{"after the run, its page shows the cluster changes put back", func(t *testing.T, b *browser) {
			var r meshReportJSON
			wait.For(t, 30*time.Second, fmt.Sprintf("run %d to end", runID), func() bool {
				getJSON(t, fmt.Sprintf("%s/api/v1/runs/%d", base, runID), &r)
				return r.Status != "queued" && r.Status != "running"
			})
			if r.Status != "succeeded" || r.Report.Mesh == nil || r.Report.Mesh.Namespace != ns || len(r.Report.Mesh.Resources) != 2 {
				t.Fatalf("run %d: %+v", runID, r)
			}
			b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/runs/%d", base, runID)))
			b.waitJS("the cluster changes", `document.querySelectorAll("#mesh-resources tbody tr").length === 2`, 10*time.Second)
			if got := evalJS[string](b, `document.getElementById("mesh-namespace").textContent`); got != ns {
				t.Errorf("the cluster changes name namespace %q, want %s", got, ns)
			}
			got := evalJS[[]string](b, `[...document.querySelectorAll("#mesh-resources tbody tr")].map((tr) => [tr.dataset.kind, tr.dataset.name, tr.dataset.action,
				tr.querySelector(".mesh-state").textContent, tr.className || "calm", [...tr.querySelectorAll("[data-version]")].map((v) => v.textContent).join(">")].join(" "))`)
			var want []string
			for _, res := range r.Report.Mesh.Resources {
				if res.State != "restored" || res.AppliedVersion == "" {
					t.Errorf("the report's %s %s: %+v", res.Kind, res.Name, res)
				}
				// Created by the run: none before, deleted after.
				want = append(want, fmt.Sprintf("%s %s created restored calm none>%s>deleted", res.Kind, res.Name, res.AppliedVersion))
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("the cluster changes:\n got %q\nwant %q", got, want)
			}
			if got := evalJS[string](b, `document.getElementById("mesh-outcome").dataset.outcome`); got != "restored" {
				t.Errorf("the outcome is %q, want restored", got)
			}
			if n := b.count("#proxy-counters"); n != 0 {
				t.Error("a mesh run's page shows proxy counters: the cluster's Envoys counted its traffic")
			}
			b.screenshot("run-mesh.png")
			b.checkNames()
			b.checkNoStray()
		}},
		{"the environment is back to holding nothing, the run in its list", func(t *testing.T, b *browser) {
			// A new version whose description is markup: the page shows it
			// as text.
			doc := meshEnvironment(`<img src=x id=injected> reviews "and" ratings`, filepath.Base(kubeconfig), ns, entry)
			if code := send(t, http.MethodPut, fmt.Sprintf("%s/api/v1/environments/%d", base, env.ID), "application/yaml", doc, nil); code != http.StatusOK {
				t.Fatalf("store version 2: %d", code)
			}
			b.do(chromedp.Navigate(base + "/ui/" + envHash))
			b.waitJS("nothing held", fmt.Sprintf(`document.querySelector("#holder-state")?.dataset.kind === "baseline" && !!document.getElementById("env-held-none") && !!document.querySelector('#env-runs-table tr[data-run="%d"]')`, runID), 10*time.Second)
			if b.count("#injected") != 0 || !evalJS[bool](b, `document.querySelector(".page-sub").textContent.includes('<img src=x id=injected> reviews "and" ratings')`) {
				t.Error("the description was not shown as text")
			}
		}},
	})
}

// The table of cluster changes both pages draw, for the states a real run
// rarely reaches (it needs no cluster).
func TestDashboardMeshResourceStates(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{})
	b := newBrowser(t, base)
	b.do(chromedp.Navigate(base + "/ui/#/safety"))
	b.waitJS("the dashboard", `!!document.getElementById("lever-state")`, 10*time.Second)
	runSteps(t, b, []step{
		{"states other than restored stand out, and every string is text", func(t *testing.T, b *browser) {
			// The states a real run rarely reaches, with markup in every
			// string, drawn by the table both pages use.
			resources := `[
				{kind: "VirtualService", name: "<img src=x id=inj-name>", action: "changed", originalVersion: "10", appliedVersion: "11", state: "conflict", detail: "<b id=inj-detail>changed during the run by someone else</b>"},
				{kind: "<i id=inj-kind>DestinationRule</i>", name: "reviews", action: "created", appliedVersion: "12", state: "applied"},
				{kind: "Gateway", name: "edge", action: "changed", originalVersion: "13", state: "not applied"},
				{kind: "ServiceEntry", name: "ext", action: "changed", originalVersion: "14", appliedVersion: "15", restoredVersion: "16", state: "restored"}]`
			row := `[tr.dataset.state, tr.className || "calm", tr.querySelector(".mesh-state").className.replace("badge mesh-state ", ""), [...tr.querySelectorAll("[data-version]")].map((v) => v.textContent).join(">")].join(" ")`
			for _, c := range []struct {
				live bool
				want []string
			}{
				{false, []string{"conflict row-bad mesh-conflict 10>11>—", "applied row-warn mesh-left none>12>—", "not applied row-warn mesh-left 13>—>—", "restored calm mesh-restored 14>15>16"}},
				// While a run holds the namespace, applied is in force.
				{true, []string{"conflict row-bad mesh-conflict 10>11>—", "applied calm mesh-in-force none>12>—", "not applied row-warn mesh-left 13>—>—", "restored calm mesh-restored 14>15>16"}},
			} {
				js := fmt.Sprintf(`(() => {
					const t = m.meshResourcesTable(%s, {live: %t});
					if (t.querySelector("img, b, i")) return ["markup became elements"];
					return [...t.querySelectorAll("tbody tr")].map((tr) => %s);
				})()`, resources, c.live, row)
				got := evalModule[[]string](b, "/ui/js/pages/common.js", js)
				if strings.Join(got, "|") != strings.Join(c.want, "|") {
					t.Errorf("live %t:\n got %q\nwant %q", c.live, got, c.want)
				}
			}
		}},
	})
}
