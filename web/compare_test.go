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

// seededAborts is an experiment whose fault draws are fixed by its seed:
// 60 calls one after another, abortPercent of them answered 503, so two
// runs of it abort the same calls every time.
func seededAborts(abortPercent int) string {
	return fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: seeded-aborts
spec:
  seed: 7
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - demo: httpbin
  load:
    url: http://httpbin:8000/get
    connections: 1
    qps: 0
    requests: 60
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
        percentage: {value: %d}
    route:
    - destination: {host: httpbin}
`, abortPercent)
}

type comparisonJSON struct {
	A struct {
		RunID int64 `json:"runId"`
	} `json:"a"`
	B struct {
		RunID int64 `json:"runId"`
	} `json:"b"`
	ErrorRatio struct {
		Delta       float64 `json:"delta"`
		Significant bool    `json:"significant"`
	} `json:"errorRatio"`
	Latency struct {
		Percentiles []struct {
			Name  string  `json:"name"`
			Delta float64 `json:"delta"`
		} `json:"percentiles"`
		Significant bool `json:"significant"`
	} `json:"latency"`
}

// Comparing two runs: the title and the subtitle name the same run as A
// (the baseline, the address's first) and as B, as the tables do, either
// way round; and only a delta the page marks significant is coloured. The
// runs abort 2 and 5 calls of 60 (the seed fixes which): a change in the
// error ratio, but not a significant one.
func TestDashboardCompareNamesAAndBAndColoursOnlySignificance(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{})
	b := newBrowser(t, base)

	var exp storedJSON
	if code := postYAML(t, base+"/api/v1/experiments", seededAborts(10), &exp); code != http.StatusCreated {
		t.Fatalf("create the experiment: %d", code)
	}
	runExample(t, base, exp.ID)
	if code := sendJSON(t, http.MethodPut, fmt.Sprintf("%s/api/v1/experiments/%d", base, exp.ID), fmt.Sprintf(`{"source": %q}`, seededAborts(15)), nil); code != http.StatusOK {
		t.Fatalf("save version 2: %d", code)
	}
	runExample(t, base, exp.ID)
	var runs struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	getJSON(t, base+"/api/v1/runs", &runs)
	if len(runs.Items) != 2 {
		t.Fatalf("%d runs, want 2", len(runs.Items))
	}
	older, newer := runs.Items[1].ID, runs.Items[0].ID

	b.do(chromedp.Navigate(base + "/ui/#/runs"))
	b.waitJS("the runs", `document.querySelectorAll("#runs-table tbody tr").length === 2`, 10*time.Second)
	for _, pair := range [][2]int64{{older, newer}, {newer, older}} {
		a, bb := pair[0], pair[1]
		var c comparisonJSON
		getJSON(t, fmt.Sprintf("%s/api/v1/runs/%d/compare/%d", base, a, bb), &c)
		if c.A.RunID != a || c.B.RunID != bb {
			t.Fatalf("the server compares %d against %d, asked for B %d against A %d", c.B.RunID, c.A.RunID, bb, a)
		}
		b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/compare/%d/%d"`, a, bb)))
		b.waitJS("the comparison", fmt.Sprintf(`location.hash === "#/compare/%d/%d" && !!document.getElementById("compare-error-ratio")`, a, bb), 10*time.Second)

		// A and B, said the same way by the title, the subtitle and the tables.
		title := evalJS[string](b, `document.querySelector("h1").textContent`)
		sub := evalJS[string](b, `document.querySelector(".page-sub").textContent`)
		for _, want := range []string{fmt.Sprintf("#%d (A)", a), fmt.Sprintf("#%d (B)", bb)} {
			if !strings.Contains(title, want) {
				t.Errorf("title %q does not say %s", title, want)
			}
		}
		if !strings.Contains(sub, fmt.Sprintf("A, run #%d, is the baseline", a)) || !strings.Contains(sub, "B − A") {
			t.Errorf("subtitle %q does not name run #%d as A, the baseline of B − A", sub, a)
		}
		if got, want := evalJS[string](b, `[...document.querySelectorAll("#compare-summary tbody tr:first-child td a")].map((a) => a.getAttribute("href")).join()`),
			fmt.Sprintf("#/runs/%d,#/runs/%d", a, bb); got != want {
			t.Errorf("the runs table's A and B link %q, want %q", got, want)
		}
		if got, want := evalJS[string](b, `document.getElementById("compare-a").value + "," + document.getElementById("compare-b").value`), fmt.Sprintf("%d,%d", a, bb); got != want {
			t.Errorf("the picker holds A,B = %q, want %q", got, want)
		}

		// The error ratio changed, not significantly: no colour.
		if c.ErrorRatio.Significant || c.ErrorRatio.Delta == 0 {
			t.Fatalf("the seeded runs' error ratios: %+v, want a change that is not significant", c.ErrorRatio)
		}
		if got := evalJS[string](b, `document.querySelector("#compare-error-ratio .sig").textContent`); got != "No significant change in error ratio" {
			t.Errorf("significance shown %q", got)
		}
		if got := evalJS[int](b, `document.querySelectorAll("#compare-error-ratio .delta-good, #compare-error-ratio .delta-bad").length`); got != 0 {
			t.Errorf("%d coloured deltas in the error ratio, which did not change significantly", got)
		}
		// Latency: a percentile's delta is coloured only when the
		// distributions differ significantly, as the page says they do.
		cells := evalJS[[][]string](b, `[...document.querySelectorAll("#compare-latency tbody tr")].map((tr) => [tr.cells[0].textContent, tr.cells[3].className, tr.cells[4].className])`)
		if len(cells) != len(c.Latency.Percentiles) {
			t.Fatalf("%d latency rows, want %d", len(cells), len(c.Latency.Percentiles))
		}
		if shown := evalJS[string](b, `document.querySelector("#compare-ks .sig").className`); strings.Contains(shown, "sig-yes") != c.Latency.Significant {
			t.Errorf("the latency significance badge is %q, the server says significant = %v", shown, c.Latency.Significant)
		}
		for i, p := range c.Latency.Percentiles {
			want := c.Latency.Significant && p.Delta != 0
			for _, cls := range cells[i][1:] {
				if got := strings.Contains(cls, "delta-"); got != want {
					t.Errorf("latency %s (Δ %v, significant %v): cell class %q, coloured = %v, want %v", p.Name, p.Delta, c.Latency.Significant, cls, got, want)
				}
			}
		}
		// Status codes have no test of their own: never coloured.
		if got := evalJS[int](b, `document.querySelectorAll("#compare-codes .delta-good, #compare-codes .delta-bad, #compare-counters .delta-good, #compare-counters .delta-bad").length`); got != 0 {
			t.Errorf("%d coloured deltas among the codes and counters, which have no significance test", got)
		}
		b.checkNames()
	}
	b.checkConsole()
}
