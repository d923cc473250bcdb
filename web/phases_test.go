package web_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/spawn"
	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server"
)

// phased is a phased run against the built-in httpbin: a second of
// baseline, a second with every call aborted, two seconds of recovery.
const phased = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: phased
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
  phases: {baseline: 1s, fault: 1s, recovery: 2s}
  hypothesis:
  - {metric: error_ratio, op: "<", value: 0.01, phase: recovery}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts: [httpbin]
  http:
  - fault:
      abort:
        httpStatus: 503
        percentage: {value: 100}
    route:
    - destination: {host: httpbin}
`

type phaseJSON struct {
	Name       string  `json:"name"`
	StartMs    float64 `json:"startMs"`
	EndMs      float64 `json:"endMs"`
	Requests   int64   `json:"requests"`
	ErrorRatio float64 `json:"errorRatio"`
	Delta      *struct {
		ErrorRatio struct {
			Significant bool `json:"significant"`
		} `json:"errorRatio"`
	} `json:"delta"`
}

type phasedRunJSON struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
	Report struct {
		Verdict           string          `json:"verdict"`
		Phases            []phaseJSON     `json:"phases"`
		TimeToRecoverMs   *float64        `json:"timeToRecoverMs"`
		Recovery          *map[string]any `json:"recovery"`
		IntendedLatencyMs *map[string]any `json:"intendedLatencyMs"`
		Schedule          *map[string]any `json:"schedule"`
	} `json:"report"`
}

// A phased run, live and then its report: the live page says the phase
// the run is in; the report shades the three phases on both charts over
// time, lists them against the baseline (the fault phase all errors, its
// change significant), shows the time to recover with how it was judged,
// and the latency percentiles as service time beside intended latency.
func TestDashboardPhasedRun(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{})
	b := newBrowser(t, base)
	var exp storedJSON
	if code := postYAML(t, base+"/api/v1/experiments", phased, &exp); code != http.StatusCreated {
		t.Fatalf("create the experiment: %d", code)
	}
	var runID int64
	runSteps(t, b, []step{
		{"the live page shows the phase the run is in", func(t *testing.T, b *browser) {
			b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/experiments/%d", base, exp.ID)))
			b.waitJS("the experiment", `document.querySelector("h1")?.textContent === "phased"`, 10*time.Second)
			// Record every phase the live page names, in order, however
			// briefly it names it.
			b.do(chromedp.Evaluate[chromedp.Void](`(() => {
				window.phasesSeen = [];
				const note = () => {
					const p = document.getElementById("live-phase");
					const name = p && !p.hidden ? p.dataset.phase : "";
					if (name && window.phasesSeen[window.phasesSeen.length - 1] !== name) window.phasesSeen.push(name);
				};
				new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-phase", "hidden"] });
			})()`))
			b.do(chromedp.Click(chromedp.ID("run-now")))
			b.waitJS("a phase on the live page", `["baseline", "fault", "recovery"].includes(document.getElementById("live-phase")?.dataset.phase)`, 15*time.Second)
			if _, err := fmt.Sscanf(b.hash(), "#/runs/%d", &runID); err != nil {
				t.Fatal(err)
			}
			b.waitJS("the live page to name the fault phase", `window.phasesSeen.includes("fault")`, 10*time.Second)
			b.waitJS("the report", `!!document.getElementById("verdict")`, 20*time.Second)
			seen := evalJS[[]string](b, `window.phasesSeen`)
			if !isSubsequence(seen, []string{"baseline", "fault", "recovery"}) {
				t.Errorf("the live page named the phases %v, want them in order", seen)
			}
		}},
		{"the report shades the phases and compares them", func(t *testing.T, b *browser) {
			var run phasedRunJSON
			getJSON(t, fmt.Sprintf("%s/api/v1/runs/%d", base, runID), &run)
			r := run.Report
			if len(r.Phases) != 3 {
				t.Fatalf("the report has %d phases, want 3", len(r.Phases))
			}
			want := []string{"baseline", "fault", "recovery"}
			for _, chart := range []string{"#timeline-chart", "#qps-chart"} {
				labels := evalJS[[]string](b, fmt.Sprintf(`[...document.querySelectorAll("%s svg g.band.phase-band")].map((g) => g.dataset.label)`, chart))
				if !slices.Equal(labels, want) {
					t.Errorf("%s bands %v, want %v", chart, labels, want)
				}
				text := evalJS[[]string](b, fmt.Sprintf(`[...document.querySelectorAll("%s svg g.band text.band-label")].map((e) => e.textContent)`, chart))
				if len(text) != 3 {
					t.Errorf("%s shows %d band labels %v, want the 3 phases named", chart, len(text), text)
				}
				// Each band spans its phase, in the timeline's time base.
				spans := evalJS[[][]float64](b, fmt.Sprintf(`[...document.querySelectorAll("%s svg g.band.phase-band")].map((g) => [Number(g.dataset.from), Number(g.dataset.to)])`, chart))
				for i, s := range spans {
					if i < len(r.Phases) && (math.Abs(s[0]-r.Phases[i].StartMs/1000) > 1e-6 || math.Abs(s[1]-r.Phases[i].EndMs/1000) > 1e-6) {
						t.Errorf("%s band %s spans %v s, the phase %v–%v ms", chart, want[i], s, r.Phases[i].StartMs, r.Phases[i].EndMs)
					}
				}
			}
			rows := evalJS[[]string](b, `[...document.querySelectorAll("#phases tbody tr")].map((tr) => tr.dataset.phase)`)
			if !slices.Equal(rows, want) {
				t.Fatalf("phase rows %v, want %v", rows, want)
			}
			fault := r.Phases[1]
			if fault.ErrorRatio < 0.95 || fault.Requests == 0 {
				t.Errorf("the fault phase's error ratio is %v over %d requests; every call was aborted", fault.ErrorRatio, fault.Requests)
			}
			if got := evalJS[float64](b, `Number(document.querySelector('#phases tr[data-phase="fault"] .phase-error-ratio').dataset.value)`); got != fault.ErrorRatio {
				t.Errorf("the fault row shows error ratio %v, the report %v", got, fault.ErrorRatio)
			}
			if got := evalJS[string](b, `document.querySelector('#phases tr[data-phase="fault"] .phase-error-ratio').textContent`); !strings.HasSuffix(got, "%") || !strings.HasPrefix(got, fmt.Sprintf("%.0f", fault.ErrorRatio*100)) {
				t.Errorf("the fault row's error ratio reads %q, want %.2f %%", got, fault.ErrorRatio*100)
			}
			if fault.Delta == nil || !fault.Delta.ErrorRatio.Significant {
				t.Errorf("the fault phase's error ratio against the baseline is not significant: %+v", fault.Delta)
			}
			if !evalJS[bool](b, `!!document.querySelector('#phases tr[data-phase="fault"] .phase-delta-errors .sig-yes')`) {
				t.Error("the fault row does not mark its error-ratio change significant")
			}
			if evalJS[bool](b, `!!document.querySelector('#phases tr[data-phase="baseline"] .sig-yes')`) {
				t.Error("the baseline row marks a change against itself")
			}

			// The time to recover, with the window and bounds it was judged by.
			recovered := evalJS[string](b, `document.getElementById("time-to-recover")?.dataset.recovered ?? ""`)
			if want := fmt.Sprint(r.TimeToRecoverMs != nil); recovered != want {
				t.Errorf("time to recover: the page says recovered=%q, the report %s (timeToRecoverMs %v)", recovered, want, r.TimeToRecoverMs)
			}
			if r.TimeToRecoverMs == nil {
				t.Errorf("the run never recovered; its recovery phase had no fault")
			}
			kpi := evalJS[string](b, `document.getElementById("kpi-ttr")?.textContent ?? ""`)
			val := evalJS[string](b, `document.querySelector("#time-to-recover .ttr-value")?.textContent ?? ""`)
			if kpi == "" || kpi != val {
				t.Errorf("time to recover reads %q in the KPIs and %q in the phases card", kpi, val)
			}
			if r.Recovery == nil {
				t.Error("the report says nothing of how recovery was judged")
			} else if how := evalJS[string](b, `document.getElementById("recovery-bounds")?.textContent ?? ""`); !strings.Contains(how, "windows") || !strings.Contains(how, "baseline") {
				t.Errorf("the recovery line reads %q, want the window and the baseline's bounds", how)
			}
			if r.TimeToRecoverMs != nil && b.count("#timeline-chart svg g.recovery-marker") != 1 {
				t.Error("no recovery mark on the latency chart")
			}

			// Service time beside intended latency, and the schedule kept.
			if r.IntendedLatencyMs == nil {
				t.Fatal("the report has no intended latency for a load with a rate")
			}
			head := evalJS[[]string](b, `[...document.querySelectorAll("#percentiles thead th")].map((th) => th.textContent)`)
			if !slices.Equal(head, []string{"Percentile", "Service", "Intended"}) {
				t.Errorf("percentile columns %v", head)
			}
			if got := b.count("#percentiles tbody td.intended"); got != 8 {
				t.Errorf("%d intended percentiles shown, want 8", got)
			}
			if r.Schedule != nil && b.count("#schedule dt") != 3 {
				t.Error("the schedule the load kept is not shown")
			}
			if got := evalJS[string](b, `document.querySelector("#hypothesis tbody tr")?.dataset.result ?? ""`); got != "pass" {
				t.Errorf("the recovery check shows %q, want pass", got)
			}
			if got := evalJS[string](b, `document.querySelector("#verdict .verdict").textContent`); got != r.Verdict {
				t.Errorf("verdict shown %q, report says %q", got, r.Verdict)
			}
			b.checkNames()
		}},
	})
}

// isSubsequence reports whether got lists some of want's elements, each
// at most once, in want's order, and at least one.
func isSubsequence(got, want []string) bool {
	if len(got) == 0 {
		return false
	}
	i := 0
	for _, g := range got {
		for i < len(want) && want[i] != g {
			i++
		}
		if i == len(want) {
			return false
		}
		i++
	}
	return true
}

// paced asks for more than a load generator starved of CPU can send on
// time; its latency check would pass on service time.
const paced = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: paced}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints: [{demo: httpbin}]
  load: {url: "http://httpbin:8000/get", connections: 2, qps: 2000, duration: 3s}
  hypothesis:
  - {metric: latency_p99, op: "<", value: 5s}
  - {metric: error_ratio, op: "==", value: 0}
`

// A run whose load generator fell behind its schedule: the report page
// warns with the lag numbers, shows the latency check as not gradable
// (neither pass nor fail) with its note, and the verdict as inconclusive,
// on the run page and in the runs list. The starvation is real: the
// server runs as its own process pinned to one CPU at the lowest priority,
// beside busy loops pinned there too while the run runs.
func TestDashboardGeneratorBehindIsInconclusive(t *testing.T) {
	needChromium(t)
	dir := t.TempDir()
	bin, err := testserver.BuildBinary(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv := spawn.Starved(ctx, bin, "serve", "--addr", addr, "--db", filepath.Join(dir, "faultline.db"), "--no-examples")
	srv.Stdout, srv.Stderr = io.Discard, io.Discard
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = srv.Wait() })
	base := "http://" + addr
	wait.For(t, 20*time.Second, "the server to answer", func() bool {
		resp, err := http.Get(base + "/api/v1/experiments")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	var exp storedJSON
	if code := postYAML(t, base+"/api/v1/experiments", paced, &exp); code != http.StatusCreated {
		t.Fatalf("create the experiment: %d", code)
	}
	stop := spawn.BusyLoops(t, 4)
	runID := runExample(t, base, exp.ID)
	stop()

	var run struct {
		Report struct {
			Verdict         string `json:"verdict"`
			GeneratorBehind bool   `json:"generatorBehind"`
			Hypothesis      []struct {
				Check       string `json:"check"`
				Pass        bool   `json:"pass"`
				NotGradable bool   `json:"notGradable"`
				Note        string `json:"note"`
			} `json:"hypothesis"`
		} `json:"report"`
	}
	getJSON(t, fmt.Sprintf("%s/api/v1/runs/%d", base, runID), &run)
	r := run.Report
	if !r.GeneratorBehind || r.Verdict != "inconclusive" || len(r.Hypothesis) != 2 || !r.Hypothesis[0].NotGradable {
		t.Fatalf("the starved run is not flagged: behind %v, verdict %s, hypothesis %+v", r.GeneratorBehind, r.Verdict, r.Hypothesis)
	}
	b := newBrowser(t, base)
	runSteps(t, b, []step{
		{"the report warns, and the latency check is not gradable", func(t *testing.T, b *browser) {
			b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/runs/%d", base, runID)))
			b.waitJS("the report", `!!document.getElementById("verdict")`, 15*time.Second)
			badge := evalJS[[]string](b, `(() => { const v = document.querySelector("#verdict .verdict"); return [v.textContent, v.className]; })()`)
			if badge[0] != "inconclusive" || !strings.Contains(badge[1], "verdict-inconclusive") {
				t.Errorf("the verdict badge reads %q (%s), want inconclusive in its own style", badge[0], badge[1])
			}
			if !evalJS[bool](b, `document.getElementById("verdict").classList.contains("banner-inconclusive")`) {
				t.Error("the verdict banner is not styled inconclusive")
			}
			warn := evalJS[string](b, `document.getElementById("generator-behind")?.textContent ?? ""`)
			if !strings.Contains(warn, "fell behind") || !strings.Contains(warn, "p99") || !strings.Contains(warn, "bound") {
				t.Errorf("the generator-behind warning reads %q, want the lag numbers", warn)
			}
			results := evalJS[[]string](b, `[...document.querySelectorAll("#hypothesis tbody tr")].map((tr) => tr.dataset.result)`)
			if len(results) != 2 || results[0] != "not-gradable" || results[1] != "pass" {
				t.Fatalf("check results shown %v, want [not-gradable pass]", results)
			}
			row := `document.querySelector('#hypothesis tbody tr[data-result="not-gradable"]')`
			if got := evalJS[string](b, row+`.querySelector(".verdict").textContent`); got != "not gradable" {
				t.Errorf("the latency check's result reads %q", got)
			}
			if evalJS[bool](b, row+`.querySelector(".verdict-pass, .verdict-fail") !== null || `+row+`.classList.contains("row-bad")`) {
				t.Error("the not-gradable check is styled as a pass or a fail")
			}
			if note := evalJS[string](b, row+`.querySelector(".check-note")?.textContent ?? ""`); note == "" || note != r.Hypothesis[0].Note {
				t.Errorf("the check's note reads %q, the report's %q", note, r.Hypothesis[0].Note)
			}
			b.checkNames()
		}},
		{"the runs list shows the inconclusive verdict in its own style", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="runs"]`)))
			b.waitJS("the runs list", fmt.Sprintf(`!!document.querySelector('#runs-table tr[data-run="%d"] .verdict')`, runID), 10*time.Second)
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('#runs-table tr[data-run="%d"] .verdict').className`, runID)); !strings.Contains(got, "verdict-inconclusive") {
				t.Errorf("the runs list's verdict is styled %q", got)
			}
		}},
	})
}
