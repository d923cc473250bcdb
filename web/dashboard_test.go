package web_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server"
)

// The dashboard is tested in Debian's Chromium, headless. .ci/run installs
// it; without it the tests skip, unless CI is set.

var updateScreenshots = flag.Bool("update-screenshots", false, "write the README's dashboard screenshots to docs/screenshots")

const chromium = "/usr/bin/chromium"

func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but %s is missing: install it with apt-get install -y chromium (.ci/run does)", chromium)
		}
		t.Skipf("%s is not installed (apt-get install -y chromium); skipping the browser tests outside CI", chromium)
	}
}

// browser is one headless Chromium tab that records every console error,
// uncaught exception and failed request of the page.
type browser struct {
	t *testing.T
	*tab
}

type tab struct {
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string
	expected []string // URL parts of requests that are meant to fail
	done     bool
	log      *testing.T
}

// in returns the browser reporting to the (sub)test t.
func (b *browser) in(t *testing.T) *browser { return &browser{t: t, tab: b.tab} }

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	needChromium(t)
	b := &browser{t: t, tab: &tab{base: base, log: t}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen), chromedp.WithLogf(b.logf), chromedp.WithErrorf(b.logf))
	t.Cleanup(func() {
		b.mu.Lock()
		b.done = true
		b.mu.Unlock()
		cancel()
		cancelAlloc()
	})
	// The first call starts the browser: no timeout on its context, or the
	// timeout would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b.ctx = ctx
	return b
}

func (b *tab) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.log.Logf("chromedp: "+format, args...)
	}
}

// listen runs on chromedp's event loop: record, never block.
func (b *tab) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				if a.Description != "" {
					parts = append(parts, a.Description)
				} else {
					parts = append(parts, string(a.Value))
				}
			}
			b.problems = append(b.problems, "console."+string(e.Type)+": "+strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *log.EventEntryAdded:
		if e.Entry.Level != log.EntryLevelError {
			return
		}
		for _, want := range b.expected {
			if e.Entry.Source == log.EntrySourceNetwork && strings.Contains(e.Entry.URL, want) {
				return
			}
		}
		// Chromium drops requests in flight, loopback included, when an
		// interface of the machine comes or goes (other tests start Docker
		// containers and networks); api.js reads them again.
		if e.Entry.Source == log.EntrySourceNetwork && strings.Contains(e.Entry.Text, "ERR_NETWORK_CHANGED") {
			return
		}
		b.problems = append(b.problems, fmt.Sprintf("browser log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
	case *page.EventJavascriptDialogOpening:
		b.problems = append(b.problems, "a native JavaScript dialog opened: "+e.Message)
	}
}

// expectFailures declares requests whose URL contains part as meant to fail.
func (b *tab) expectFailures(part string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expected = append(b.expected, part)
}

// checkConsole fails the test on any console error recorded so far.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser console: %s", p)
	}
	b.problems = nil
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

func evalJS[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitJS polls the expression until it is true, and fails saying what was
// awaited, with the page's text, when it is not within the timeout.
func (b *browser) waitJS(what, js string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+js+")", chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.hash + "\n" + document.querySelector("main").innerText.slice(0, 1500)`))
		b.t.Fatalf("waiting for %s: %v\npage:\n%s", what, err, text)
	}
}

// checkNames fails for any control or chart on screen without an
// accessible name (a label, aria-label, or its text).
func (b *browser) checkNames() {
	b.t.Helper()
	unnamed := evalJS[[]string](b, `(() => {
		const name = (e) => (e.getAttribute("aria-label") || "").trim()
			|| (e.getAttribute("aria-labelledby") || "").split(" ").map((id) => document.getElementById(id)?.textContent.trim() || "").join("")
			|| [...(e.labels || [])].map((l) => l.textContent.trim()).join("")
			|| (e.tagName === "svg" ? "" : e.textContent.trim()) || (e.getAttribute("title") || "").trim();
		return [...document.querySelectorAll('main button, main a[href], main input, main select, main textarea, main svg[role="img"], header a, header button')]
			.filter((e) => e.getClientRects().length > 0 && !name(e))
			.map((e) => e.outerHTML.slice(0, 120));
	})()`)
	for _, u := range unnamed {
		b.t.Errorf("no accessible name on %s (page %s)", u, b.hash())
	}
}

// setValue replaces an input's or textarea's value as a paste would, with
// an input event.
func (b *browser) setValue(id, value string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.focus(); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`, id, value)
	if !evalJS[bool](b, js) {
		b.t.Fatalf("set value of #%s", id)
	}
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return evalJS[int](b, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

func (b *browser) hash() string { return evalJS[string](b, `location.hash`) }

func (b *browser) screenshot(name string) {
	b.t.Helper()
	if !*updateScreenshots {
		return
	}
	// Let transitions and the toast settle.
	b.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("toast").hidden = true; window.scrollTo(0, 0)`), chromedp.Sleep(150*time.Millisecond))
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote docs/screenshots/%s", name)
}

// send calls the API directly, for the test's own set-up and
// expectations: body goes with contentType (none when ""), a 2xx answer
// is decoded into into (when not nil), and the status is returned.
func send(t *testing.T, method, url, contentType, body string, into any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if into != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatalf("%s %s: decode the %d answer: %v", method, url, resp.StatusCode, err)
		}
	}
	return resp.StatusCode
}

// getJSON reads an API answer.
func getJSON(t *testing.T, url string, into any) int {
	t.Helper()
	return send(t, http.MethodGet, url, "", "", into)
}

// sendJSON sends a JSON body.
func sendJSON(t *testing.T, method, url, body string, into any) int {
	t.Helper()
	return send(t, method, url, "application/json", body, into)
}

// postYAML stores a document.
func postYAML(t *testing.T, url, doc string, into any) int {
	t.Helper()
	return send(t, http.MethodPost, url, "application/yaml", doc, into)
}

// runExample starts an experiment through the API, waits for its end,
// and returns the run's id.
func runExample(t *testing.T, base string, id int64) int64 {
	t.Helper()
	var run runJSON
	if code := sendJSON(t, http.MethodPost, fmt.Sprintf("%s/api/v1/experiments/%d/runs", base, id), "", &run); code != http.StatusAccepted {
		t.Fatalf("start run of experiment %d: %d", id, code)
	}
	wait.For(t, 20*time.Second, fmt.Sprintf("run %d to end", run.ID), func() bool {
		getJSON(t, fmt.Sprintf("%s/api/v1/runs/%d", base, run.ID), &run)
		return run.Status != "queued" && run.Status != "running"
	})
	return run.ID
}

// smoke is the experiment the test writes in the editor: a short run
// against the built-in httpbin with a share of calls aborted.
func smoke(abortPercent int) string {
	return fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: ui-smoke
  description: written in the dashboard's editor
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - demo: httpbin
  load:
    url: http://httpbin:8000/get
    connections: 2
    qps: 40
    duration: 2s
  hypothesis:
  - {metric: error_ratio, op: "<", value: 0.5}
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

type experimentList struct {
	Items []struct {
		ID          int64  `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"items"`
	Total int `json:"total"`
}

type runJSON struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
	Report struct {
		Verdict   string           `json:"verdict"`
		Codes     map[string]int64 `json:"codes"`
		Histogram []any            `json:"histogram"`
		Timeline  []any            `json:"timeline"`
		Injection []any            `json:"injection"`
	} `json:"report"`
}

// step is one stage of a browser flow. A flow's steps share one page and
// run in order as subtests.
type step struct {
	name string
	fn   func(t *testing.T, b *browser)
}

// runSteps runs a flow's steps in b's page, ends the flow at the first
// that fails, then fails on any console error the page recorded.
func runSteps(t *testing.T, b *browser, steps []step) {
	t.Helper()
	for _, s := range steps {
		start := time.Now()
		ok := t.Run(s.name, func(t *testing.T) { s.fn(t, b.in(t)) })
		t.Logf("%-70s %v", s.name, time.Since(start).Round(time.Millisecond))
		if !ok {
			break
		}
	}
	b.checkConsole()
}

// withExamples starts a server holding the shipped examples and a page
// on it, and returns the examples as the API lists them.
func withExamples(t *testing.T) (base string, b *browser, examples experimentList) {
	t.Helper()
	needChromium(t)
	base, _ = testserver.Start(t, server.Config{LoadExamples: true})
	b = newBrowser(t, base)
	getJSON(t, base+"/api/v1/experiments?limit=500", &examples)
	if examples.Total == 0 {
		t.Fatal("no example experiments loaded")
	}
	return base, b, examples
}

// TestDashboardExperimentsList: the list of the shipped examples, and its
// search.
func TestDashboardExperimentsList(t *testing.T) {
	base, b, examples := withExamples(t)
	runSteps(t, b, []step{
		{"the experiments list shows the examples", func(t *testing.T, b *browser) {
			b.do(chromedp.Navigate(base + "/"))
			b.waitJS("the experiment rows", fmt.Sprintf(`document.querySelectorAll("#experiments-table tbody tr").length === %d`, examples.Total), 10*time.Second)
			if got := b.hash(); got != "#/experiments" {
				t.Errorf("the dashboard opened at %q, want #/experiments", got)
			}
			if n := b.count(`#experiments-table tbody tr .exp-name`); n != examples.Total {
				t.Errorf("%d experiment names shown, want %d", n, examples.Total)
			}
			b.checkNames()
			// "/" jumps to the search box.
			b.do(chromedp.KeyEvent("/"))
			if !evalJS[bool](b, `document.activeElement?.id === "search"`) {
				t.Error(`"/" does not focus the search box`)
			}
			b.setValue("search", "") // the test's key event also types the "/"
		}},
		{"search filters the list", func(t *testing.T, b *browser) {
			want := 0
			for _, e := range examples.Items {
				if strings.Contains(strings.ToLower(e.Name+" "+e.Description), "mirror") {
					want++
				}
			}
			b.do(chromedp.SendKeys(chromedp.ID("search"), "mirror"))
			b.waitJS("the filtered rows", fmt.Sprintf(`document.querySelectorAll("#experiments-table tbody tr:not([hidden])").length === %d`, want), 5*time.Second)
			if got := evalJS[string](b, `document.getElementById("exp-count").textContent`); got != fmt.Sprintf("%d of %d experiments", want, examples.Total) {
				t.Errorf("count says %q", got)
			}
			b.do(chromedp.SendKeys(chromedp.ID("search"), "zzz-nothing"))
			b.waitJS("the no-match note", `!document.getElementById("no-match").hidden`, 5*time.Second)
			b.setValue("search", "")
			b.waitJS("every row again", fmt.Sprintf(`document.querySelectorAll("#experiments-table tbody tr:not([hidden])").length === %d`, examples.Total), 5*time.Second)
		}},
	})
}

// TestDashboardEditorRefusesABadDocument: a document with an error is
// marked at its line and not saved.
func TestDashboardEditorRefusesABadDocument(t *testing.T) {
	base, b, examples := withExamples(t)
	b.do(chromedp.Navigate(base + "/"))
	b.waitJS("the experiments list", `!!document.getElementById("new-experiment")`, 10*time.Second)
	runSteps(t, b, []step{
		{"a bad document shows its error at its line and is not saved", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.ID("new-experiment")))
			b.waitJS("the editor with the template, valid", `document.getElementById("validation-status")?.dataset.state === "valid"`, 10*time.Second)
			bad := strings.Replace(smoke(20), "connections: 2", "conections: 2", 1)
			line := 0
			for i, l := range strings.Split(bad, "\n") {
				if strings.Contains(l, "conections") {
					line = i + 1
				}
			}
			b.setValue("yaml", "")
			b.do(chromedp.SendKeys(chromedp.ID("yaml"), bad))
			b.waitJS("the error marker at the misspelt field's line", fmt.Sprintf(
				`[...document.querySelectorAll(".editor-gutter .ln.error")].map(e => e.textContent).join() === "%d"`, line), 10*time.Second)
			msg := evalJS[string](b, fmt.Sprintf(`document.querySelector('.mark-msg.error[data-line="%d"]')?.textContent ?? ""`, line))
			if !strings.Contains(msg, `unknown field "conections"`) {
				t.Errorf("inline message at line %d = %q, want the unknown field", line, msg)
			}
			if got := evalJS[string](b, `document.getElementById("validation-status").textContent`); got != "1 error" {
				t.Errorf("validation status = %q, want 1 error", got)
			}
			b.do(chromedp.Click(chromedp.ID("save")))
			b.waitJS("the refusal", `!document.getElementById("save-message").hidden`, 5*time.Second)
			if got := evalJS[string](b, `document.getElementById("save-message").textContent`); !strings.Contains(got, fmt.Sprintf("line %d", line)) {
				t.Errorf("save message = %q, want it to name line %d", got, line)
			}
			if got := b.hash(); got != "#/experiments/new" {
				t.Errorf("after a refused save the page is %q", got)
			}
			var after experimentList
			getJSON(t, base+"/api/v1/experiments?limit=500", &after)
			if after.Total != examples.Total {
				t.Errorf("%d experiments stored after a refused save, want %d", after.Total, examples.Total)
			}
			b.checkNames()
			b.screenshot("editor-error.png")
		}},
	})
}

// TestDashboardExperimentLifecycle follows an experiment from the editor
// through a run, live and then its report.
func TestDashboardExperimentLifecycle(t *testing.T) {
	base, b, _ := withExamples(t)
	var expID int64
	runIDs := make([]int64, 0, 2)
	b.do(chromedp.Navigate(base + "/"))
	b.waitJS("the experiments list", `!!document.getElementById("new-experiment")`, 10*time.Second)
	b.do(chromedp.Click(chromedp.ID("new-experiment")))
	b.waitJS("the editor with the template, valid", `document.getElementById("validation-status")?.dataset.state === "valid"`, 10*time.Second)
	runSteps(t, b, []step{
		{"create an experiment in the editor", func(t *testing.T, b *browser) {
			b.setValue("yaml", "")
			b.do(chromedp.SendKeys(chromedp.ID("yaml"), smoke(20)))
			b.waitJS("the document to validate", `document.getElementById("validation-status").dataset.state === "valid" && !document.querySelector(".editor-gutter .ln.error")`, 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("save")))
			b.waitJS("the new experiment's page", `/^#\/experiments\/\d+$/.test(location.hash) && document.querySelector("h1")?.textContent === "ui-smoke"`, 10*time.Second)
			if _, err := fmt.Sscanf(b.hash(), "#/experiments/%d", &expID); err != nil {
				t.Fatal(err)
			}
			var e struct{ Source string }
			getJSON(t, fmt.Sprintf("%s/api/v1/experiments/%d", base, expID), &e)
			if e.Source != smoke(20) {
				t.Errorf("stored source differs from what was typed:\n%s", e.Source)
			}
		}},
		{"run now shows live progress, then the report", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.ID("run-now")))
			b.waitJS("live progress", `(() => {
				const n = document.getElementById("live-requests"), p = document.getElementById("run-progress");
				return n && Number(n.textContent.replace(/\D/g, "")) > 0 && p.value > 0 && p.value < 1 && document.querySelectorAll("#live-codes rect.bar").length > 0;
			})()`, 15*time.Second)
			var id int64
			if _, err := fmt.Sscanf(b.hash(), "#/runs/%d", &id); err != nil {
				t.Fatal(err)
			}
			runIDs = append(runIDs, id)
			if !evalJS[bool](b, `!!document.getElementById("stop")`) {
				t.Error("no Stop button while the run is live")
			}
			if *updateScreenshots {
				b.waitJS("half of the run", `document.getElementById("run-progress").value >= 0.5`, 10*time.Second)
				b.screenshot("run-live.png")
			}
			b.waitJS("the report", `!!document.getElementById("verdict")`, 20*time.Second)
			var run runJSON
			getJSON(t, fmt.Sprintf("%s/api/v1/runs/%d", base, id), &run)
			if got := evalJS[string](b, `document.querySelector("#verdict .verdict").textContent`); got != run.Report.Verdict {
				t.Errorf("verdict shown %q, report says %q", got, run.Report.Verdict)
			}
			if got, want := b.count("#codes-chart svg rect.bar"), len(run.Report.Codes); got != want || want < 2 {
				t.Errorf("%d status-code bars, want %d (one per code, 200 and 503)", got, want)
			}
			if got, want := b.count("#histogram-chart svg rect.bar"), len(run.Report.Histogram); got != want || want == 0 {
				t.Errorf("%d histogram bars, want %d", got, want)
			}
			if got := b.count("#timeline-chart svg polyline"); got != 2 && len(run.Report.Timeline) > 1 {
				t.Errorf("%d lines in latency over time, want p50 and p99", got)
			}
			if got := b.count("#percentiles tbody tr"); got != 8 {
				t.Errorf("%d percentile rows, want 8", got)
			}
			if got, want := b.count("#injection tbody tr"), len(run.Report.Injection); got != want || want == 0 {
				t.Errorf("%d injection rows, want %d", got, want)
			}
			if got := b.count("#hypothesis tbody tr"); got != 1 {
				t.Errorf("%d hypothesis rows, want 1", got)
			}
			if got := b.count("#proxy-counters .proxy-routes tbody tr"); got != 1 {
				t.Errorf("%d proxy route rows, want 1", got)
			}
			links := evalJS[[]string](b, `[...document.querySelectorAll("#downloads a")].map(a => a.getAttribute("href"))`)
			want := []string{"fortio.json", "junit.xml", "histogram.csv"}
			if len(links) != len(want) {
				t.Fatalf("download links %v", links)
			}
			for i, l := range links {
				if l != fmt.Sprintf("/api/v1/runs/%d/%s", id, want[i]) {
					t.Errorf("download link %q, want …/%s", l, want[i])
				}
			}
			b.checkNames()
			b.screenshot("run.png")
		}},
	})
}

// TestDashboardRunAgainAndCompare: an experiment that has run once is
// edited and run again from the dashboard, the two runs compared, and the
// list shows its last run.
func TestDashboardRunAgainAndCompare(t *testing.T) {
	base, b, examples := withExamples(t)
	expID := storeSmoke(t, base, b)
	runIDs := []int64{runExample(t, base, expID)}
	runSteps(t, b, []step{
		{"edit, run again and compare", func(t *testing.T, b *browser) {
			b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/experiments/%d/edit"`, expID)))
			b.waitJS("the definition", `document.getElementById("yaml")?.value.includes("ui-smoke") && document.getElementById("validation-status").dataset.state === "valid"`, 10*time.Second)
			b.setValue("yaml", "")
			b.do(chromedp.SendKeys(chromedp.ID("yaml"), smoke(60)))
			b.waitJS("the edit to validate", `document.getElementById("validation-status").dataset.state === "valid" && document.getElementById("yaml").value.includes("value: 60")`, 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("save")))
			b.waitJS("version 2", `document.getElementById("exp-version").textContent === "v2"`, 10*time.Second)

			b.do(chromedp.Click(chromedp.ID("run-now")))
			b.waitJS("the run page", `/^#\/runs\/\d+$/.test(location.hash)`, 10*time.Second)
			var id int64
			if _, err := fmt.Sscanf(b.hash(), "#/runs/%d", &id); err != nil {
				t.Fatal(err)
			}
			runIDs = append(runIDs, id)
			b.waitJS("the second report", `!!document.getElementById("verdict")`, 20*time.Second)

			b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/experiments/%d"`, expID)))
			b.waitJS("both runs in the history", `document.querySelectorAll("#history-table tbody tr").length === 2`, 10*time.Second)
			if got := b.count("#trend-errors svg circle"); got != 2 {
				t.Errorf("%d points on the error-ratio trend, want 2", got)
			}
			if got := b.count("#trend-p99 svg polyline"); got != 2 {
				t.Errorf("%d lines on the latency trend, want p99 and p50", got)
			}
			for _, rid := range runIDs {
				b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#history-table input.pick[value="%d"]`, rid))))
			}
			b.do(chromedp.Click(chromedp.ID("compare-selected")))
			b.waitJS("the comparison", fmt.Sprintf(`location.hash === "#/compare/%d/%d" && !!document.getElementById("compare-error-ratio")`, runIDs[0], runIDs[1]), 10*time.Second)
			var cmp struct {
				ErrorRatio struct {
					Significant bool `json:"significant"`
				} `json:"errorRatio"`
			}
			getJSON(t, fmt.Sprintf("%s/api/v1/runs/%d/compare/%d", base, runIDs[0], runIDs[1]), &cmp)
			shown := evalJS[string](b, `document.querySelector("#compare-error-ratio .sig").textContent`)
			if want := map[bool]string{true: "Significant change in error ratio", false: "No significant change in error ratio"}[cmp.ErrorRatio.Significant]; shown != want {
				t.Errorf("significance shown %q, want %q", shown, want)
			}
			if !cmp.ErrorRatio.Significant {
				t.Error("20 % against 60 % aborts should differ significantly")
			}
			if got := b.count("#compare-latency tbody tr"); got != 8 {
				t.Errorf("%d latency rows, want 8", got)
			}
			if got := evalJS[string](b, `document.querySelector("#compare-error-ratio .delta-bad")?.textContent ?? ""`); !strings.HasPrefix(got, "+") {
				t.Errorf("error-ratio delta %q, want a positive, highlighted delta", got)
			}
			if got := b.count("#compare-latency svg rect.bar.pair-b"); got != 5 { // 4 rows + the legend
				t.Errorf("%d B bars in the latency chart, want 5", got)
			}
			b.checkNames()
			b.screenshot("compare.png")
		}},
		{"the list shows each experiment's last run", func(t *testing.T, b *browser) {
			if *updateScreenshots {
				// A fuller list for the README: a few examples run too.
				for _, name := range []string{"httpbin-abort", "httpbin-circuit-breaker", "httpbin-traffic-shift"} {
					for _, e := range examples.Items {
						if e.Name == name {
							runExample(t, base, e.ID)
						}
					}
				}
			}
			b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="experiments"]`)))
			row := `#experiments-table tr[data-name="ui-smoke"]`
			b.waitJS("the list", fmt.Sprintf(`!!document.querySelector('%s')`, row), 10*time.Second)
			var last runJSON
			getJSON(t, fmt.Sprintf("%s/api/v1/runs/%d", base, runIDs[1]), &last)
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('%s .last-run .badge').textContent`, row)); got != last.Status {
				t.Errorf("last run shows %q, want %q", got, last.Status)
			}
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('%s .verdict').textContent`, row)); got != last.Report.Verdict {
				t.Errorf("last verdict shows %q, want %q", got, last.Report.Verdict)
			}
			b.screenshot("experiments.png")
		}},
	})
}

// storeSmoke stores the experiment the lifecycle writes in the editor,
// ui-smoke, and opens the dashboard.
func storeSmoke(t *testing.T, base string, b *browser) (expID int64) {
	t.Helper()
	var e storedJSON
	if code := postYAML(t, base+"/api/v1/experiments", smoke(20), &e); code != http.StatusCreated {
		t.Fatalf("store ui-smoke: %d", code)
	}
	b.do(chromedp.Navigate(base + "/"))
	b.waitJS("the experiments list", `!!document.getElementById("new-experiment")`, 10*time.Second)
	return e.ID
}

// A copy of an experiment, run long enough to watch on the proxy page,
// and stopped from its run page.
func TestDashboardDuplicateWatchAndStop(t *testing.T) {
	base, b, _ := withExamples(t)
	expID := storeSmoke(t, base, b)
	runSteps(t, b, []step{
		{"duplicate, watch the copy's proxy, stop it", func(t *testing.T, b *browser) {
			b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/experiments/%d"`, expID)))
			b.waitJS("the experiment", `document.querySelector("h1")?.textContent === "ui-smoke"`, 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("duplicate")))
			b.waitJS("the copy in the editor", `/^  name: ui-smoke-copy$/m.test(document.getElementById("yaml")?.value) && document.getElementById("validation-status").dataset.state === "valid"`, 10*time.Second)
			// A long run, so it is surely live on the proxy page and when stopped.
			b.setValue("yaml", strings.Replace(evalJS[string](b, `document.getElementById("yaml").value`), "duration: 2s", "duration: 60s", 1))
			b.do(chromedp.Click(chromedp.ID("save")))
			b.waitJS("the copy's page", `document.querySelector("h1")?.textContent === "ui-smoke-copy"`, 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("run-now")))
			b.waitJS("the copy running", `Number(document.getElementById("live-requests")?.textContent.replace(/\D/g, "")) > 0`, 15*time.Second)
			var id int64
			if _, err := fmt.Sscanf(b.hash(), "#/runs/%d", &id); err != nil {
				t.Fatal(err)
			}
			// A run may end between listing it and asking for its proxy.
			b.expectFailures("/proxy")
			b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="proxy"]`)))
			b.waitJS("the live proxy of the run", fmt.Sprintf(`(() => {
				const card = document.querySelector('.proxy-run[data-run="%d"]');
				return card && /^127\.0\.0\.1:\d+$/.test(card.querySelector(".listener-addr")?.textContent) && card.querySelectorAll(".proxy-routes tbody tr").length === 1;
			})()`, id), 10*time.Second)
			b.checkNames()
			b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`.proxy-run[data-run="%d"] a[href="#/runs/%d"]`, id, id))))
			b.waitJS("the live run page", `!!document.getElementById("live")`, 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("stop")))
			b.waitJS("the confirmation", `document.getElementById("confirm-dialog").open`, 5*time.Second)
			b.do(chromedp.Click(chromedp.ID("confirm-ok")))
			b.waitJS("the stopped run's report", `document.querySelector("#run-status .badge")?.textContent === "stopped" && !!document.getElementById("verdict")`, 15*time.Second)
		}},
	})
}

// The editor's question before unsaved edits are lost, and a missing
// run's page.
func TestDashboardUnsavedEditsAndAMissingRun(t *testing.T) {
	base, b, _ := withExamples(t)
	b.do(chromedp.Navigate(base + "/"))
	b.waitJS("the experiments list", `!!document.getElementById("new-experiment")`, 10*time.Second)
	runSteps(t, b, []step{
		{"leaving unsaved edits asks first", func(t *testing.T, b *browser) {
			b.do(chromedp.Evaluate[chromedp.Void](`location.hash = "#/experiments/new"`))
			b.waitJS("the editor", `document.getElementById("validation-status")?.dataset.state === "valid"`, 10*time.Second)
			b.do(chromedp.SendKeys(chromedp.ID("yaml"), "# edited\n"))
			b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="runs"]`)))
			b.waitJS("the question", `document.getElementById("confirm-dialog").open`, 5*time.Second)
			b.do(chromedp.Click(chromedp.ID("confirm-cancel")))
			b.waitJS("the editor, kept", `location.hash === "#/experiments/new" && document.getElementById("yaml").value.includes("# edited")`, 5*time.Second)
			b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="runs"]`)))
			b.waitJS("the question", `document.getElementById("confirm-dialog").open`, 5*time.Second)
			b.do(chromedp.Click(chromedp.ID("confirm-ok")))
			b.waitJS("the runs page", `location.hash === "#/runs" && document.querySelector("h1")?.textContent === "Runs"`, 5*time.Second)
			b.checkNames()
		}},
		{"a missing run shows a readable error", func(t *testing.T, b *browser) {
			b.expectFailures("/api/v1/runs/999999")
			b.do(chromedp.Evaluate[chromedp.Void](`location.hash = "#/runs/999999"`))
			b.waitJS("the error panel", `document.querySelector(".error-panel")?.textContent.includes("not found")`, 10*time.Second)
		}},
	})
}

// Deleting an experiment from the list asks first.
func TestDashboardDeleteAsksFirst(t *testing.T) {
	base, b, _ := withExamples(t)
	expID := storeSmoke(t, base, b)
	runSteps(t, b, []step{
		{"delete asks first", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="experiments"]`)))
			row := `#experiments-table tr[data-name="ui-smoke"]`
			b.waitJS("the list", fmt.Sprintf(`!!document.querySelector('%s')`, row), 10*time.Second)
			b.do(chromedp.Click(chromedp.CSS(row + " button.delete")))
			b.waitJS("the confirmation", `document.getElementById("confirm-dialog").open`, 5*time.Second)
			b.do(chromedp.Click(chromedp.ID("confirm-cancel")))
			b.waitJS("the dialog to close", `!document.getElementById("confirm-dialog").open`, 5*time.Second)
			if getJSON(t, fmt.Sprintf("%s/api/v1/experiments/%d", base, expID), nil) != 200 {
				t.Fatal("cancelled delete deleted the experiment")
			}
			b.do(chromedp.Click(chromedp.CSS(row + " button.delete")))
			b.waitJS("the confirmation", `document.getElementById("confirm-dialog").open`, 5*time.Second)
			b.do(chromedp.Click(chromedp.ID("confirm-ok")))
			b.waitJS("the row to go", fmt.Sprintf(`!document.querySelector('%s')`, row), 5*time.Second)
			if code := getJSON(t, fmt.Sprintf("%s/api/v1/experiments/%d", base, expID), nil); code != 404 {
				t.Errorf("after delete GET answers %d, want 404", code)
			}
		}},
	})
}

func TestDashboardAsksForTheToken(t *testing.T) {
	needChromium(t)
	const token = "s3cret-t0ken-0123456789"
	base, _ := testserver.Start(t, server.Config{LoadExamples: true, Token: token})
	b := newBrowser(t, base)
	b.expectFailures("/api/v1/") // the calls before the token is given answer 401

	b.do(chromedp.Navigate(base + "/"))
	b.waitJS("the token prompt", `document.getElementById("token-dialog").open`, 10*time.Second)
	b.do(chromedp.SendKeys(chromedp.ID("token-input"), "wrong"), chromedp.Click(chromedp.ID("token-submit")))
	b.waitJS("the refusal", `document.getElementById("token-dialog").open && !document.getElementById("token-error").hidden`, 10*time.Second)
	b.setValue("token-input", "")
	b.do(chromedp.SendKeys(chromedp.ID("token-input"), token), chromedp.Click(chromedp.ID("token-submit")))
	b.waitJS("the experiments", `!document.getElementById("token-dialog").open && document.querySelectorAll("#experiments-table tbody tr").length > 0`, 10*time.Second)
	if got := evalJS[string](b, `sessionStorage.getItem("faultline.token")`); got != token {
		t.Errorf("session storage holds %q", got)
	}
	if href := evalJS[string](b, `location.href`); strings.Contains(href, token) {
		t.Errorf("the token is in the URL %s", href)
	}
	if evalJS[bool](b, `document.getElementById("token-state").hidden`) {
		t.Error("the header does not say a token is set")
	}
	// A reload keeps the session's token: no prompt.
	b.do(chromedp.Navigate(base + "/ui/#/runs"))
	b.waitJS("the runs page", `document.querySelector("h1")?.textContent === "Runs"`, 10*time.Second)
	if evalJS[bool](b, `document.getElementById("token-dialog").open`) {
		t.Error("asked for the token again after a reload")
	}
	b.checkConsole()
}
