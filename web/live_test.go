package web_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server"
)

// bursty is 40 calls a second over 8 connections: each connection calls
// every 200 ms, all of them at once at the start, so a quarter of a second
// sees 8 or 16 calls (32 or 64 a second) while the run makes 40.
const bursty = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: bursty
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - demo: httpbin
  load:
    url: http://httpbin:8000/get
    connections: 8
    qps: 40
    duration: 3s
`

// A live run's throughput chart starts with what the run does, not with
// the burst of its first quarter second: its first point, and the
// report's, are near the 40 calls a second the run makes; so is every
// point of the live chart, the last (a few milliseconds after the one
// before) included.
func TestDashboardLiveThroughputStartsWithoutASpike(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{})
	b := newBrowser(t, base)
	var exp storedJSON
	if code := postYAML(t, base+"/api/v1/experiments", bursty, &exp); code != http.StatusCreated {
		t.Fatalf("create the experiment: %d", code)
	}
	const qps, low, high = 40.0, 0.6 * 40, 1.4 * 40
	b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/experiments/%d", base, exp.ID)))
	b.waitJS("the experiment", `document.querySelector("h1")?.textContent === "bursty"`, 10*time.Second)
	b.do(chromedp.Click(chromedp.ID("run-now")))
	b.waitJS("the live chart's first point", `!!document.querySelector("#live-chart svg circle.dot")`, 15*time.Second)
	first := evalJS[[]float64](b, `(({dataset: d}) => [Number(d.x), Number(d.y)])(document.querySelector("#live-chart svg circle.dot"))`)
	if len(first) != 2 {
		t.Fatalf("the first point's data: %v", first)
	}
	if at, v := first[0], first[1]; v < low || v > high {
		t.Errorf("the live chart starts at %.2f s with %.1f calls a second; the run makes %v", at, v, qps)
	}
	// Every live point, up to the last one before the report replaces them.
	var live []float64
	wait.For(t, 20*time.Second, "the run to end", func() bool {
		v := evalJS[[]float64](b, `document.getElementById("verdict") ? [] : [...document.querySelectorAll("#live-chart svg circle.dot")].map((c) => Number(c.dataset.y))`)
		if len(v) == 0 {
			return true
		}
		live = v
		return false
	})
	for i, v := range live {
		if v < low || v > high {
			t.Errorf("live point %d of %d: %.1f calls a second; the run makes %v", i+1, len(live), v, qps)
		}
	}
	b.waitJS("the report", `!!document.getElementById("verdict")`, 20*time.Second)
	if v := evalJS[float64](b, `Number(document.querySelector("#qps-chart svg circle.dot")?.dataset.y ?? -1)`); v < low || v > high {
		t.Errorf("the report's throughput starts with %.1f calls a second; the run makes %v", v, qps)
	}
	b.checkConsole()
}
