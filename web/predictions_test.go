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

type predictionJSON struct {
	Metric    string   `json:"metric"`
	Route     string   `json:"route"`
	Predicted float64  `json:"predicted"`
	Low       float64  `json:"low"`
	High      float64  `json:"high"`
	Observed  *float64 `json:"observed"`
	Within    *bool    `json:"within"`
}

// A run of an experiment aborting half its calls, and its dry run. The
// dry run's predictions table has the error ratio predicted from the
// rule's fault (50 %) with its 95 % interval and a picture without an
// observed point. The run's report lists the same predictions with what
// the run observed: the error ratio within its interval (✓), its picture
// with the observed dot inside; every row out of its interval highlighted
// with ✗. A report without predictions (runs that do not predict) shows
// no predictions card.
func TestDashboardRunPredictions(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{})
	b := newBrowser(t, base)
	var exp storedJSON
	if code := postYAML(t, base+"/api/v1/experiments", halfAborted, &exp); code != http.StatusCreated {
		t.Fatalf("create the experiment: %d", code)
	}
	runSteps(t, b, []step{
		{"the dry run predicts the error ratio", func(t *testing.T, b *browser) {
			var dry struct {
				DryRun      bool             `json:"dryRun"`
				Predictions []predictionJSON `json:"predictions"`
			}
			if code := sendJSON(t, http.MethodPost, fmt.Sprintf("%s/api/v1/experiments/%d/runs?dryRun=true", base, exp.ID), "{}", &dry); code != http.StatusOK || !dry.DryRun {
				t.Fatalf("dry run: %d %+v", code, dry)
			}
			b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/experiments/%d", base, exp.ID)))
			b.waitJS("the experiment", `!!document.getElementById("dry-run")`, 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("dry-run")))
			b.waitJS("the dry run's predictions", `document.querySelectorAll("#dry-predictions tbody tr").length > 0`, 15*time.Second)
			if got := b.count("#dry-predictions tbody tr"); got != len(dry.Predictions) {
				t.Errorf("%d predictions shown, the dry run has %d", got, len(dry.Predictions))
			}
			row := `#dry-predictions tbody tr[data-metric="error_ratio"]`
			cells := evalJS[[]string](b, fmt.Sprintf(`[...document.querySelector('%s').children].map((td) => td.textContent)`, row))
			if len(cells) != 6 || cells[1] != "httpbin/0" || cells[3] != "50.00 %" || !strings.Contains(cells[2], "50 %") {
				t.Errorf("the error_ratio row reads %q, want httpbin/0 predicted 50.00 %% from the rule's 50 %% abort", cells)
			}
			var er *predictionJSON
			for i := range dry.Predictions {
				if dry.Predictions[i].Metric == "error_ratio" {
					er = &dry.Predictions[i]
				}
			}
			if er == nil {
				t.Fatal("the dry run predicts no error ratio")
			}
			if want := fmt.Sprintf("%.2f %% – %.2f %%", er.Low*100, er.High*100); cells[4] != want {
				t.Errorf("the interval reads %q, want %q", cells[4], want)
			}
			pic := fmt.Sprintf(`document.querySelector('%s svg.chart-interval')`, row)
			if got := evalJS[float64](b, `Number(`+pic+`.querySelector("line.predicted").dataset.value)`); got != er.Predicted {
				t.Errorf("the picture's predicted tick is at %v, want %v", got, er.Predicted)
			}
			if evalJS[bool](b, pic+`.querySelector("circle.observed") !== null`) {
				t.Error("a dry run's picture shows an observed point")
			}
		}},
		{"the report lists the predictions beside the observations", func(t *testing.T, b *browser) {
			runID := runExample(t, base, exp.ID)
			var run struct {
				Report struct {
					Predictions []predictionJSON `json:"predictions"`
				} `json:"report"`
			}
			getJSON(t, fmt.Sprintf("%s/api/v1/runs/%d", base, runID), &run)
			preds := run.Report.Predictions
			if len(preds) == 0 {
				// The run's report carries no predictions: no card for them.
				t.Logf("run %d's report has no predictions", runID)
				b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/runs/%d", base, runID)))
				b.waitJS("the report", `!!document.getElementById("verdict")`, 10*time.Second)
				if b.count("#predictions-card") != 0 {
					t.Error("a predictions card for a report without predictions")
				}
				return
			}
			var er *predictionJSON
			for i := range preds {
				if preds[i].Metric == "error_ratio" {
					er = &preds[i]
				}
			}
			if er == nil {
				t.Fatalf("the run's report has no error_ratio prediction: %+v", preds)
			}
			if er.Within == nil || !*er.Within || er.Observed == nil {
				t.Fatalf("the error ratio prediction [%v, %v] was not met: observed %v", er.Low, er.High, er.Observed)
			}
			b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/#/runs/%d", base, runID)))
			b.waitJS("the predictions", `document.querySelectorAll("#predictions tbody tr").length > 0`, 10*time.Second)
			if got := b.count("#predictions tbody tr"); got != len(preds) {
				t.Errorf("%d prediction rows, the report has %d", got, len(preds))
			}
			row := `#predictions tbody tr[data-metric="error_ratio"]`
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('%s').dataset.route`, row)); got != er.Route || got != "httpbin/0" {
				t.Errorf("the error_ratio row is about %q, the report says %q (want httpbin/0)", got, er.Route)
			}
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('%s td.within').textContent`, row)); got != "✓" {
				t.Errorf("the error_ratio row says %q in Within, want ✓", got)
			}
			if evalJS[bool](b, fmt.Sprintf(`document.querySelector('%s').classList.contains("row-bad")`, row)) {
				t.Error("the error_ratio row is highlighted though within its interval")
			}
			// The picture: the interval, the predicted tick, the observed
			// dot inside it.
			pic := fmt.Sprintf(`document.querySelector('%s svg.chart-interval')`, row)
			if !evalJS[bool](b, pic+` !== null`) {
				t.Fatal("no picture for the error_ratio prediction")
			}
			if got := evalJS[float64](b, `Number(`+pic+`.querySelector("line.predicted").dataset.value)`); got != er.Predicted {
				t.Errorf("the picture's predicted tick is at %v, the report predicts %v", got, er.Predicted)
			}
			if got := evalJS[float64](b, `Number(`+pic+`.querySelector("circle.observed.inside")?.dataset.value ?? -1)`); got != *er.Observed {
				t.Errorf("the picture's observed dot (inside) is at %v, the report observed %v", got, *er.Observed)
			}
			// Every row out of its interval, if any, is highlighted.
			for _, p := range preds {
				if p.Within != nil && !*p.Within {
					sel := fmt.Sprintf(`#predictions tbody tr[data-metric="%s"][data-route="%s"]`, p.Metric, p.Route)
					if !evalJS[bool](b, fmt.Sprintf(`document.querySelector('%s')?.classList.contains("row-bad") && document.querySelector('%s td.within').textContent === "✗"`, sel, sel)) {
						t.Errorf("the %s prediction of %s is outside its interval but not highlighted with ✗", p.Metric, p.Route)
					}
				}
			}
			b.checkNames()
		}},
	})
}
