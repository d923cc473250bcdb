package web_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/kubetest"
	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/server"
)

func TestMain(m *testing.M) {
	testserver.DisableRyuk() // before the first container starts
	os.Exit(kubetest.Main(m))
}

// A run that pauses its container target mid-load: the run page marks the
// pause and the unpause on the latency and throughput charts, shades the
// time between, and lists both actions under the charts.
func TestDashboardMarksContainerActions(t *testing.T) {
	needChromium(t)
	testserver.NeedDocker(t)
	dir := testserver.DemoTargetContext(t)
	// The experiment builds its target from dir, which the server allows.
	base, _ := testserver.Start(t, server.Config{AllowBuildDirs: []string{dir}})
	b := newBrowser(t, base)

	doc := fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: pause-httpbin
  description: the target freezes for 1.5 s mid-load, then recovers
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - container:
        build: {context: %q}
        port: 8080
        wait: {path: /get}
  load:
    url: http://httpbin:8000/get
    connections: 4
    qps: 40
    duration: 4s
    timeout: 300ms
  actions:
  - {at: 1s, container: httpbin, action: pause}
  - {at: 2500ms, container: httpbin, action: unpause}
`, dir)
	var exp storedJSON
	if code := postYAML(t, base+"/api/v1/experiments", doc, &exp); code != http.StatusCreated {
		t.Fatalf("create the experiment: %d", code)
	}
	b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/experiments/%d", base, exp.ID)))
	b.waitJS("the experiment", `document.querySelector("h1")?.textContent === "pause-httpbin"`, 10*time.Second)
	b.do(chromedp.Click(chromedp.ID("run-now")))
	b.waitJS("the run page", `/^#\/runs\/\d+$/.test(location.hash)`, 10*time.Second)
	b.waitJS("the report", `!!document.getElementById("verdict")`, 90*time.Second)

	var id int64
	if _, err := fmt.Sscanf(b.hash(), "#/runs/%d", &id); err != nil {
		t.Fatal(err)
	}
	var run struct {
		Status string `json:"status"`
		Report struct {
			Actions []struct {
				Action string  `json:"action"`
				Target string  `json:"target"`
				AtMs   float64 `json:"atMs"`
				OK     bool    `json:"ok"`
				Error  string  `json:"error"`
			} `json:"actions"`
		} `json:"report"`
	}
	getJSON(t, fmt.Sprintf("%s/api/v1/runs/%d", base, id), &run)
	if len(run.Report.Actions) != 2 {
		t.Fatalf("run %d (%s) recorded actions %+v, want the pause and the unpause", id, run.Status, run.Report.Actions)
	}
	for _, chart := range []string{"timeline-chart", "qps-chart"} {
		labels := evalJS[[]string](b, fmt.Sprintf(`[...document.querySelectorAll("#%s svg .action-marker")].map(g => g.dataset.label)`, chart))
		if strings.Join(labels, ",") != "pause httpbin,unpause httpbin" {
			t.Errorf("%s markers %q, want pause httpbin and unpause httpbin", chart, labels)
		}
		if got := b.count("#" + chart + " svg rect.action-span"); got != 1 {
			t.Errorf("%s: %d shaded spans, want the 1 while the container was paused", chart, got)
		}
		// Each marker sits at its action's time on the chart's x axis, the
		// same axis as the data: x is linear in the time, so the pause and
		// the unpause split the data's span in the ratio of their times.
		at := evalJS[[]float64](b, fmt.Sprintf(`[...document.querySelectorAll("#%s svg .action-marker")].map(g => Number(g.dataset.at))`, chart))
		xs := evalJS[[]float64](b, fmt.Sprintf(`[...document.querySelectorAll("#%s svg .action-marker line")].map(l => Number(l.getAttribute("x1")))`, chart))
		if len(at) != 2 || len(xs) != 2 {
			continue
		}
		for i, a := range run.Report.Actions {
			if got, want := at[i], a.AtMs/1000; got != want {
				t.Errorf("%s: marker %d at %v s, the report says %v s", chart, i, got, want)
			}
		}
		// The x of each marker, mapped back through the axis ticks' labels.
		ticks := evalJS[[][]float64](b, fmt.Sprintf(`[...document.querySelectorAll("#%s svg text.axis-text[text-anchor=middle]")].map(t => [Number(t.getAttribute("x")), parseFloat(t.textContent)])`, chart))
		if len(ticks) < 2 {
			t.Errorf("%s: %d x-axis ticks", chart, len(ticks))
			continue
		}
		perSecond := (ticks[len(ticks)-1][0] - ticks[0][0]) / (ticks[len(ticks)-1][1] - ticks[0][1])
		for i, x := range xs {
			if sec := ticks[0][1] + (x-ticks[0][0])/perSecond; sec < at[i]-0.01 || sec > at[i]+0.01 {
				t.Errorf("%s: marker %d drawn at %.3f s on the axis, want %.3f s", chart, i, sec, at[i])
			}
		}
	}
	rows := evalJS[[]string](b, `[...document.querySelectorAll("#actions tbody tr")].map(tr => [...tr.cells].slice(2).map(c => c.textContent.trim()).join(" "))`)
	if len(rows) != 2 || rows[0] != "pause httpbin ok" || rows[1] != "unpause httpbin ok" {
		t.Errorf("actions table rows %q", rows)
	}
	b.checkNames()
	b.screenshot("run-actions.png")
	b.checkConsole()
}
