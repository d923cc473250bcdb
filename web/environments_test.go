package web_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/server"
	"github.com/faultline/faultline/server/demo"
)

// freeAddr returns a loopback address nothing listens on: a port the
// kernel handed out and that was closed again at once.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, release := reserveAddr(t)
	release()
	return addr
}

// reserveAddr holds a free loopback address until release, so that the
// servers a test starts meanwhile on port 0 cannot be given it.
func reserveAddr(t *testing.T) (addr string, release func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), func() { ln.Close() }
}

// serveHandler serves h on a loopback port until the test ends.
func serveHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// bookinfoByName runs Bookinfo's productpage (asking details too),
// details, reviews v2 and ratings on loopback ports, each calling the
// others by name through the forward proxy at egress, as services wired
// to an environment do; it returns each host's address.
func bookinfoByName(t *testing.T, egress string) map[string]string {
	t.Helper()
	opts := demo.BookinfoOptions{ByName: true, Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: egress}), CallDetails: true}
	page := demo.NewProductpage(opts)
	t.Cleanup(page.CloseIdleConnections)
	opts.Version = "v2"
	reviews, err := demo.NewReviews(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reviews.CloseIdleConnections)
	opts.Version = ""
	return map[string]string{
		"productpage": serveHandler(t, page),
		"details":     serveHandler(t, demo.NewDetailsService(opts)),
		"reviews":     serveHandler(t, reviews),
		"ratings":     serveHandler(t, demo.NewRatings(opts)),
	}
}

// shopEnvironment is Bookinfo behind an egress, productpage with a
// listener of its own, and a baseline that sends reviews to v2.
func shopEnvironment(egress, pageListen string, addrs map[string]string) string {
	return fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata:
  name: shop
  description: Bookinfo, each service calling the others through the egress
spec:
  egress: %s
  services:
  - host: productpage
    port: 9080
    listen: %s
    endpoints: [{address: %s, labels: {version: v1}}]
  - host: details
    port: 9080
    endpoints: [{address: %s, labels: {version: v1}}]
  - host: reviews
    port: 9080
    endpoints: [{address: %s, labels: {version: v2}}]
  - host: ratings
    port: 9080
    endpoints: [{address: %s, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v2}
`, egress, pageListen, addrs["productpage"], addrs["details"], addrs["reviews"], addrs["ratings"])
}

// brokenEnvironment binds httpbin to an address where nothing answers.
func brokenEnvironment(egress, dead string) string {
	return fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: broken, description: its only endpoint is down}
spec:
  egress: %s
  services:
  - host: httpbin
    port: 8000
    endpoints: [{address: %s}]
`, egress, dead)
}

// The overlay the test lays through the form: ratings answers 418 and
// details 503, to every call.
const shopOverlay = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - fault:
      abort:
        httpStatus: 418
        percentage: {value: 100}
    route:
    - destination: {host: ratings}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http:
  - fault:
      abort:
        httpStatus: 503
        percentage: {value: 100}
    route:
    - destination: {host: details}
`

type environmentJSON struct {
	ID    int64 `json:"id"`
	Plane struct {
		Version        int    `json:"version"`
		PendingVersion int    `json:"pendingVersion"`
		Listening      bool   `json:"listening"`
		Error          string `json:"error"`
		Holder         *struct {
			Kind    string `json:"kind"`
			RunID   int64  `json:"runId"`
			Overlay *struct {
				ID int64 `json:"id"`
			} `json:"overlay"`
		} `json:"holder"`
		Listeners []struct {
			Kind string `json:"kind"`
			Addr string `json:"addr"`
		} `json:"listeners"`
		Baseline []string `json:"baseline"`
	} `json:"plane"`
}

type graphJSON struct {
	Edges []struct {
		Source         string  `json:"source"`
		Destination    string  `json:"destination"`
		WindowRequests int64   `json:"windowRequests"`
		ErrorRatio     float64 `json:"errorRatio"`
		Faulted        bool    `json:"faulted"`
	} `json:"edges"`
}

// graphLevel is the colour the dashboard gives an edge: its thresholds
// are graph.js's THRESHOLDS.
func graphLevel(windowRequests int64, errorRatio float64) string {
	switch {
	case windowRequests == 0:
		return "idle"
	case errorRatio >= 0.1:
		return "bad"
	case errorRatio >= 0.001:
		return "warn"
	}
	return "ok"
}

// egressClient sends requests through an environment's egress, as a
// service with HTTP_PROXY set does.
func egressClient(t *testing.T, egress string) *http.Client {
	t.Helper()
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: egress})}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// status sends GET url through c and returns the answer's status.
func status(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// browse sends n page views to productpage through the egress; each is a
// call to productpage, and from it to details and reviews, and from
// reviews to ratings.
func browse(t *testing.T, c *http.Client, n int) {
	t.Helper()
	for range n {
		if code := status(t, c, "http://productpage:9080/productpage?json"); code != http.StatusOK {
			t.Fatalf("productpage through the egress: %d", code)
		}
	}
}

// checkNoStray fails for a text in the page that is a value gone wrong:
// "null", "undefined" or "NaN" on its own.
func (b *browser) checkNoStray() {
	b.t.Helper()
	stray := evalJS[[]string](b, `(() => {
		const out = [];
		const w = document.createTreeWalker(document.querySelector("main"), NodeFilter.SHOW_TEXT);
		for (let n = w.nextNode(); n; n = w.nextNode()) {
			if (/^(null|undefined|NaN)$/.test(n.textContent.trim())) out.push(n.parentElement.outerHTML.slice(0, 160));
		}
		return out;
	})()`)
	for _, s := range stray {
		b.t.Errorf("a stray value in the page %s: %s", b.hash(), s)
	}
}

func lineOf(t *testing.T, doc, text string) int {
	t.Helper()
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("no line holds %q", text)
	return 0
}

// shopStage is a server with two environments: shop, Bookinfo calling
// through its egress (ten pages browsed already), and broken, one
// endpoint of which is down; and a page on the server.
type shopStage struct {
	db, base                 string
	stop                     func()
	b                        *browser
	egress, pageListen, dead string
	addrs                    map[string]string
	shop, broken             environmentJSON
	client                   *http.Client
	envPath, shopHash        string
}

func withShop(t *testing.T) *shopStage {
	t.Helper()
	needChromium(t)
	e := &shopStage{db: t.TempDir() + "/faultline.db"}
	e.base, e.stop = testserver.Start(t, server.Config{DB: e.db})
	e.b = newBrowser(t, e.base)

	// The two addresses stay taken while Bookinfo's servers start, so
	// that none of them is given one; the environment listens on them.
	egress, releaseEgress := reserveAddr(t)
	pageListen, releasePage := reserveAddr(t)
	e.egress, e.pageListen = egress, pageListen
	e.addrs = bookinfoByName(t, e.egress)
	releaseEgress()
	releasePage()
	if code := postYAML(t, e.base+"/api/v1/environments", shopEnvironment(e.egress, e.pageListen, e.addrs), &e.shop); code != http.StatusCreated {
		t.Fatalf("create the shop environment: %d", code)
	}
	e.dead = freeAddr(t)
	if code := postYAML(t, e.base+"/api/v1/environments", brokenEnvironment(freeAddr(t), e.dead), &e.broken); code != http.StatusCreated {
		t.Fatalf("create the broken environment: %d", code)
	}
	e.client = egressClient(t, e.egress)
	browse(t, e.client, 10)
	e.envPath = fmt.Sprintf("%s/api/v1/environments/%d", e.base, e.shop.ID)
	e.shopHash = fmt.Sprintf("#/environments/%d", e.shop.ID)
	// The refusals answer 409 and 422.
	e.b.expectFailures(e.envPath)
	return e
}

// openShop opens shop's page.
func (e *shopStage) openShop() {
	e.b.do(chromedp.Navigate(e.base + "/ui/" + e.shopHash))
	e.b.waitJS("shop's page", `document.querySelector("h1")?.textContent === "shop" && document.querySelectorAll("#env-listeners-table tbody tr").length === 2`, 10*time.Second)
}

// apiGraph reads the graph the page draws.
func (e *shopStage) apiGraph(t *testing.T) graphJSON {
	var g graphJSON
	if code := getJSON(t, e.envPath+"/graph", &g); code != http.StatusOK {
		t.Fatalf("GET …/graph: %d", code)
	}
	return g
}

// sameGraph waits for the drawing to hold exactly the API's edges with
// traffic, each coloured and marked as the API's numbers say.
func sameGraph(t *testing.T, b *browser, g graphJSON) {
	t.Helper()
	var want []string
	for _, e := range g.Edges {
		if e.WindowRequests > 0 {
			want = append(want, fmt.Sprintf("%s>%s:%s:%t", e.Source, e.Destination, graphLevel(e.WindowRequests, e.ErrorRatio), e.Faulted))
		}
	}
	js := `[...document.querySelectorAll("#env-graph-chart svg .graph-edge")].map((g) => g.dataset.source + ">" + g.dataset.destination + ":" + g.dataset.level + ":" + g.dataset.faulted).sort().join(" ")`
	b.waitJS("the graph's edges as the API has them: "+strings.Join(want, " "), fmt.Sprintf(`%s === %q`, js, strings.Join(want, " ")), 10*time.Second)
}

// Environments from the dashboard, against the real server and Bookinfo
// calling through an environment's egress: the list, and the live page
// (listeners, endpoints, baseline, counters, access log, the service
// graph drawn from the traffic).
func TestEnvironments(t *testing.T) {
	e := withShop(t)
	base, egress, pageListen, shop, shopHash, apiGraph := e.base, e.egress, e.pageListen, e.shop, e.shopHash, e.apiGraph
	runSteps(t, e.b, []step{
		{"the list shows each environment, listening, with its egress", func(t *testing.T, b *browser) {
			b.do(chromedp.Navigate(base + "/ui/#/environments"))
			row := `#environments-table tr[data-name="shop"]`
			b.waitJS("the two rows", `document.querySelectorAll("#environments-table tbody tr").length === 2`, 10*time.Second)
			if got := evalJS[string](b, `document.querySelector('nav a[aria-current="page"]')?.dataset.nav ?? ""`); got != "environments" {
				t.Errorf("the nav marks %q, want environments", got)
			}
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('%s .env-state .badge').textContent`, row)); got != "listening" {
				t.Errorf("shop's state shows %q, want listening", got)
			}
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('%s .env-egress').textContent`, row)); got != egress {
				t.Errorf("shop's egress shows %q, want %s", got, egress)
			}
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('%s .env-holder').textContent`, row)); got != "baseline" {
				t.Errorf("shop is held by %q, want the baseline", got)
			}
			b.waitJS("broken's endpoint down", `document.querySelector('#environments-table tr[data-name="broken"] .env-warn')?.textContent === "1 of 1 endpoints down"`, 10*time.Second)
			b.checkNames()
			b.checkNoStray()
		}},
		{"the page shows listeners, endpoints, baseline, counters and the access log", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.CSS(`#environments-table tr[data-name="shop"] a.exp-name`)))
			b.waitJS("shop's page", fmt.Sprintf(`location.hash === %q && document.querySelector("h1")?.textContent === "shop" && document.querySelectorAll("#env-listeners-table tbody tr").length === 2`, shopHash), 10*time.Second)
			got := evalJS[[]string](b, `[...document.querySelectorAll("#env-listeners-table tbody tr")].map((tr) => tr.dataset.kind + " " + tr.querySelector(".listener-addr").textContent)`)
			if want := []string{"mesh " + egress, "service " + pageListen}; strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("listeners %v, want %v", got, want)
			}
			if got, want := evalJS[string](b, `[...document.querySelectorAll("#env-baseline-list li")].map((li) => li.textContent).join(",")`), strings.Join(shop.Plane.Baseline, ","); got != want || len(shop.Plane.Baseline) != 2 {
				t.Errorf("baseline %q, want the API's %q (the DestinationRule and the VirtualService)", got, want)
			}
			b.waitJS("four endpoints up", `document.querySelectorAll('#env-endpoints-table tr[data-up="true"]').length === 4`, 10*time.Second)
			if !evalJS[bool](b, `document.getElementById("env-warnings").hidden`) {
				t.Error("a warning shows while it listens and every endpoint is up")
			}
			if got := evalJS[string](b, `document.querySelector("#holder-state").dataset.kind`); got != "baseline" {
				t.Errorf("holder %q, want the baseline", got)
			}
			b.waitJS("the requests counted", `Number(document.getElementById("env-requests")?.textContent.replace(/\D/g, "")) >= 40`, 10*time.Second)
			b.waitJS("the access log's lines", `document.getElementById("env-access-log").textContent.includes('"ratings:9080"')`, 10*time.Second)
			// The runs card is filled by a request of its own.
			b.waitJS("the runs card saying there are none", `!!document.querySelector("#env-runs .empty")`, 10*time.Second)
			b.checkNames()
			b.checkNoStray()
		}},
		{"the service graph has the calls of the traffic", func(t *testing.T, b *browser) {
			g := apiGraph(t)
			if len(g.Edges) != 4 {
				t.Fatalf("the API's graph has %d edges, want 4: %+v", len(g.Edges), g.Edges)
			}
			sameGraph(t, b, g)
			for _, e := range []string{"unknown>productpage", "productpage>details", "productpage>reviews", "reviews>ratings"} {
				src, dst, _ := strings.Cut(e, ">")
				label := evalJS[string](b, fmt.Sprintf(`document.querySelector('#env-graph-chart .graph-label[data-source=%q][data-destination=%q] .edge-label')?.textContent ?? ""`, src, dst))
				if !regexp.MustCompile(`^[\d.,]+ rps[\d.]+ %p99 [\d.]+ m?s$`).MatchString(label) {
					t.Errorf("label of %s → %s = %q, want its rps, error ratio and p99", src, dst, label)
				}
			}
			columns := evalJS[string](b, `[...document.querySelectorAll("#env-graph-chart .graph-node")].map((n) => n.dataset.name + "=" + n.dataset.column).sort().join(" ")`)
			if want := "details=2 productpage=1 ratings=3 reviews=2 unknown=0"; columns != want {
				t.Errorf("node columns %q, want %q", columns, want)
			}
			if got := b.count("#env-graph-table tbody tr"); got != 4 {
				t.Errorf("%d rows in the graph's table, want 4", got)
			}
			if got := b.count("#env-graph-chart .fault-badge"); got != 0 {
				t.Errorf("%d fault badges at the baseline", got)
			}
		}},
	})
}

// An overlay on shop's page: its refusals said in the page (a bad TTL,
// problems at their lines, the lever); laid through the form with its
// countdown and its fault seen through the egress, a new version waiting
// for it; its time left in the list; removed with the button.
func TestEnvironmentsOverlay(t *testing.T) {
	e := withShop(t)
	base, egress, pageListen, addrs, client, envPath, apiGraph := e.base, e.egress, e.pageListen, e.addrs, e.client, e.envPath, e.apiGraph
	e.openShop()
	runSteps(t, e.b, []step{
		{"overlay refusals are said in the page", func(t *testing.T, b *browser) {
			b.setValue("overlay-source", shopOverlay)
			b.setValue("overlay-ttl", "soon")
			b.do(chromedp.Click(chromedp.ID("overlay-add")))
			b.waitJS("the TTL's error", `!document.getElementById("overlay-ttl-error").hidden && document.getElementById("overlay-ttl").getAttribute("aria-invalid") === "true"`, 10*time.Second)
			if got := evalJS[string](b, `document.getElementById("overlay-ttl-error").textContent`); !strings.Contains(got, `"soon"`) {
				t.Errorf("TTL error %q", got)
			}

			bad := strings.Replace(shopOverlay, "  hosts: [details]", "  hostz: [details]", 1)
			line := lineOf(t, bad, "hostz")
			b.setValue("overlay-source", bad)
			b.setValue("overlay-ttl", "40s")
			b.do(chromedp.Click(chromedp.ID("overlay-add")))
			b.waitJS("the problem at its line", fmt.Sprintf(`document.getElementById("overlay-result").dataset.kind === "problems" && !!document.querySelector('#overlay-result li[data-line="%d"]')`, line), 10*time.Second)
			if got := evalJS[string](b, `document.getElementById("overlay-ttl-error").hidden ? "" : "shown"`); got != "" {
				t.Error("the TTL's error still shows")
			}
			if got := evalJS[string](b, `[...document.querySelectorAll("#overlay-card .editor-gutter .ln.error")].map((e) => e.textContent).join()`); got != strconv.Itoa(line) {
				t.Errorf("the editor marks lines %q, want %d", got, line)
			}
			if got := evalJS[string](b, `document.getElementById("overlay-result").textContent`); !strings.Contains(got, `unknown field "hostz"`) {
				t.Errorf("the refusal says %q", got)
			}

			// Engaged while the page is not reading the lever: the server
			// refuses, and the page holds the button from then on; released,
			// the page's lever watcher frees it.
			b.pauseLeverWatch()
			if code := sendJSON(t, http.MethodPost, base+"/api/v1/safety/lever", `{"engaged": true, "reason": "environments test"}`, nil); code != http.StatusOK {
				t.Fatalf("engage the lever: %d", code)
			}
			b.setValue("overlay-source", shopOverlay)
			b.do(chromedp.Click(chromedp.ID("overlay-add")))
			b.waitJS("the lever's refusal", `document.getElementById("overlay-result").dataset.kind === "lever" && !!document.querySelector('#overlay-result a[href="#/safety"]')`, 10*time.Second)
			b.waitJS("Add overlay held", `document.getElementById("overlay-add").disabled`, 10*time.Second)
			b.expectHeld("environments test", "#overlay-add")
			b.resumeLeverWatch()
			if code := sendJSON(t, http.MethodPost, base+"/api/v1/safety/lever", `{"engaged": false}`, nil); code != http.StatusOK {
				t.Fatalf("release the lever: %d", code)
			}
			b.waitJS("Add overlay enabled again", `!document.getElementById("overlay-add").disabled && !document.getElementById("overlay-add").hasAttribute("aria-describedby")`, leverWatch)
			var e environmentJSON
			getJSON(t, envPath, &e)
			if e.Plane.Holder != nil {
				t.Fatalf("a refused overlay holds the environment: %+v", e.Plane.Holder)
			}
		}},
		{"an overlay holds it with a countdown, and its fault is seen through the egress", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.ID("overlay-add")))
			b.waitJS("the overlay as the holder", `document.getElementById("holder-state")?.dataset.kind === "overlay" && document.getElementById("overlay-result").hidden`, 10*time.Second)
			first := evalJS[string](b, `document.getElementById("overlay-countdown").textContent`)
			m := regexp.MustCompile(`^(\d+) s left$`).FindStringSubmatch(first)
			if m == nil {
				t.Fatalf("countdown %q, want seconds left", first)
			}
			if n, _ := strconv.Atoi(m[1]); n > 40 || n < 30 {
				t.Errorf("countdown starts at %d s, want about 40", n)
			}
			b.waitJS("the countdown to move", fmt.Sprintf(`(() => { const m = /^(\d+) s left$/.exec(document.getElementById("overlay-countdown").textContent); return m && Number(m[1]) < %s; })()`, m[1]), 5*time.Second)
			var e environmentJSON
			getJSON(t, envPath, &e)
			if e.Plane.Holder == nil || e.Plane.Holder.Kind != "overlay" || e.Plane.Holder.Overlay == nil {
				t.Fatalf("the API says the holder is %+v, want the overlay", e.Plane.Holder)
			}
			if got := evalJS[string](b, `document.getElementById("holder-state").dataset.overlay`); got != strconv.FormatInt(e.Plane.Holder.Overlay.ID, 10) {
				t.Errorf("the page shows overlay %s, the API %d", got, e.Plane.Holder.Overlay.ID)
			}
			if code := status(t, client, "http://ratings:9080/ratings/0"); code != http.StatusTeapot {
				t.Errorf("ratings through the egress under the overlay: %d, want its abort 418", code)
			}
			browse(t, client, 10)
			b.waitJS("the faults counted", `Number(document.getElementById("env-faults-aborted")?.textContent.replace(/\D/g, "")) >= 21`, 10*time.Second)
			g := apiGraph(t)
			sameGraph(t, b, g)
			// The calls to the services the overlay faults: the page's, and the
			// test's own call to ratings.
			if got := evalJS[string](b, `[...document.querySelectorAll("#env-graph-chart .graph-label.faulted")].filter((l) => l.querySelector(".fault-badge")).map((l) => l.dataset.source + ">" + l.dataset.destination).sort().join()`); got != "productpage>details,reviews>ratings,unknown>ratings" {
				t.Errorf("fault badges on %q, want productpage>details, reviews>ratings and unknown>ratings", got)
			}
			if got := evalJS[string](b, `document.querySelector('#env-graph-chart .graph-edge[data-destination="details"]').dataset.level`); got != "bad" {
				t.Errorf("productpage → details, half its calls in the window aborted with 503, is %q, want bad", got)
			}
			b.checkNames()
			b.checkNoStray()
			b.screenshot("environment.png")

			// A new version saved while the overlay holds it waits for the overlay.
			b.do(chromedp.Click(chromedp.ID("tab-definition")))
			b.waitJS("the definition, valid", `document.getElementById("yaml")?.value.includes("name: shop") && document.getElementById("validation-status").dataset.state === "valid"`, 10*time.Second)
			if got := evalJS[string](b, `document.getElementById("editor-form").textContent`); !strings.Contains(got, "when the overlay holding it ends") {
				t.Errorf("the editor does not say the new version waits for the overlay: %q", got)
			}
			edited := strings.Replace(shopEnvironment(egress, pageListen, addrs), "description: Bookinfo,", "description: Bookinfo v2,", 1)
			b.setValue("yaml", edited)
			b.waitJS("the edit to validate", `document.getElementById("validation-status").dataset.state === "valid" && document.getElementById("yaml").value.includes("Bookinfo v2,")`, 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("save")))
			b.waitJS("version 2", `document.getElementById("env-version").textContent === "v2"`, 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("tab-overview")))
			b.waitJS("the pending version", `/^Version 2 waits\./.test(document.getElementById("env-pending")?.textContent)`, 10*time.Second)
		}},
		{"the list shows the overlay's time left", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="environments"]`)))
			b.waitJS("shop held by the overlay, version 2 waiting", `/^overlay #\d+ · \d+ s leftv2 waits for it$/.test(document.querySelector('#environments-table tr[data-name="shop"] .env-holder')?.textContent)`, 10*time.Second)
			b.screenshot("environments.png")
			b.do(chromedp.Click(chromedp.CSS(`#environments-table tr[data-name="shop"] a.exp-name`)))
			b.waitJS("shop's page with its overlay", `document.getElementById("holder-state")?.dataset.kind === "overlay" && !!document.getElementById("overlay-remove")`, 10*time.Second)
		}},
		{"Remove brings the baseline back", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.ID("overlay-remove")))
			b.waitJS("the baseline", `document.getElementById("holder-state")?.dataset.kind === "baseline"`, 10*time.Second)
			b.waitJS("the last overlay and why it ended", `/ended .*: it was deleted\.$/.test(document.getElementById("env-last-overlay")?.textContent)`, 10*time.Second)
			if code := status(t, client, "http://ratings:9080/ratings/0"); code != http.StatusOK {
				t.Errorf("ratings through the egress after the overlay: %d, want 200", code)
			}
			b.waitJS("the pending version taken", `!document.getElementById("env-pending")`, 10*time.Second)
			var e environmentJSON
			getJSON(t, envPath, &e)
			if e.Plane.Holder != nil || e.Plane.Version != 2 || e.Plane.PendingVersion != 0 {
				t.Errorf("after Remove the API says holder %+v, version %d, pending %d; want the baseline of version 2", e.Plane.Holder, e.Plane.Version, e.Plane.PendingVersion)
			}
		}},
	})
}

// A run holding shop: the page links it, and refuses overlays and delete.
func TestEnvironmentsHeldByARun(t *testing.T) {
	e := withShop(t)
	base, envPath := e.base, e.envPath
	e.openShop()
	runSteps(t, e.b, []step{
		{"a run holds it: its link, and overlays and delete refused", func(t *testing.T, b *browser) {
			var exp storedJSON
			doc := `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: shop-browse}
spec:
  environment: shop
  load:
    url: http://productpage:9080/productpage
    connections: 1
    qps: 5
    duration: 60s
`
			if code := postYAML(t, base+"/api/v1/experiments", doc, &exp); code != http.StatusCreated {
				t.Fatalf("store the experiment: %d", code)
			}
			var run runJSON
			if code := sendJSON(t, http.MethodPost, fmt.Sprintf("%s/api/v1/experiments/%d/runs", base, exp.ID), "", &run); code != http.StatusAccepted {
				t.Fatalf("start the run: %d", code)
			}
			t.Cleanup(func() { sendJSON(t, http.MethodPost, fmt.Sprintf("%s/api/v1/runs/%d/stop", base, run.ID), "", nil) })
			b.waitJS("the run as the holder", fmt.Sprintf(`document.getElementById("holder-state")?.dataset.kind === "run" && document.getElementById("holder-run-link")?.getAttribute("href") === "#/runs/%d"`, run.ID), 15*time.Second)
			b.waitJS("the run in the runs card", fmt.Sprintf(`!!document.querySelector('#env-runs-table tr[data-run="%d"]')`, run.ID), 10*time.Second)

			b.do(chromedp.Click(chromedp.ID("overlay-add")))
			b.waitJS("the busy refusal with the run", fmt.Sprintf(`document.getElementById("overlay-result").dataset.kind === "busy" && !!document.querySelector('#overlay-result a[href="#/runs/%d"]')`, run.ID), 10*time.Second)

			b.do(chromedp.Click(chromedp.ID("env-delete")))
			b.waitJS("the confirmation", `document.getElementById("confirm-dialog").open`, 5*time.Second)
			b.do(chromedp.Click(chromedp.ID("confirm-ok")))
			b.waitJS("the refusal", `!document.getElementById("env-error").hidden && document.getElementById("env-error").dataset.kind === "busy"`, 10*time.Second)
			if got := evalJS[string](b, `document.getElementById("env-error").textContent`); !strings.Contains(got, fmt.Sprintf("run %d", run.ID)) {
				t.Errorf("the refusal says %q, want the run that holds it", got)
			}
			if code := getJSON(t, envPath, nil); code != http.StatusOK {
				t.Fatalf("after a refused delete GET answers %d", code)
			}
			if code := sendJSON(t, http.MethodPost, fmt.Sprintf("%s/api/v1/runs/%d/stop", base, run.ID), "", nil); code >= 300 {
				t.Fatalf("stop the run: %d", code)
			}
			b.waitJS("the baseline after the run", `document.getElementById("holder-state")?.dataset.kind === "baseline"`, 15*time.Second)
			b.waitJS("the run's end in the runs card", fmt.Sprintf(`document.querySelector('#env-runs-table tr[data-run="%d"]')?.dataset.status === "stopped"`, run.ID), 10*time.Second)
			b.checkNoStray()
		}},
	})
}

// The editor's refusals at their lines, an endpoint down, and delete.
func TestEnvironmentsEditorEndpointDownDelete(t *testing.T) {
	e := withShop(t)
	base, egress, dead, broken := e.base, e.egress, e.dead, e.broken
	e.b.do(chromedp.Navigate(base + "/ui/#/environments"))
	e.b.waitJS("the two rows", `document.querySelectorAll("#environments-table tbody tr").length === 2`, 10*time.Second)
	runSteps(t, e.b, []step{
		{"the editor refuses an environment with an error at its line", func(t *testing.T, b *browser) {
			b.do(chromedp.Evaluate[chromedp.Void](`location.hash = "#/environments/new"`))
			b.waitJS("the editor", `document.getElementById("yaml")?.value.includes("kind: Environment") && !!document.getElementById("validation-status")?.dataset.state`, 10*time.Second)
			b.checkNames()
			b.checkNoStray()
			taken := strings.Replace(brokenEnvironment(egress, dead), "name: broken", "name: twin", 1)
			line := lineOf(t, taken, "egress:")
			b.setValue("yaml", taken)
			b.waitJS("the taken egress marked at its line", fmt.Sprintf(`[...document.querySelectorAll(".editor-gutter .ln.error")].map((e) => e.textContent).join() === "%d"`, line), 10*time.Second)
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('.mark-msg.error[data-line="%d"]')?.textContent ?? ""`, line)); !strings.Contains(got, egress) {
				t.Errorf("the message at line %d is %q, want it to name %s", line, got, egress)
			}
			misspelt := strings.Replace(brokenEnvironment(freeAddr(t), dead), "    port: 8000", "    prot: 8000", 1)
			line = lineOf(t, misspelt, "prot:")
			b.setValue("yaml", misspelt)
			b.waitJS("the misspelt field marked at its line", fmt.Sprintf(`document.querySelector('.mark-msg.error[data-line="%d"]')?.textContent.includes('unknown field "prot"')`, line), 10*time.Second)
			b.do(chromedp.Click(chromedp.ID("save")))
			b.waitJS("the refusal", `!document.getElementById("save-message").hidden`, 5*time.Second)
			if got := evalJS[string](b, `document.getElementById("save-message").textContent`); !strings.HasPrefix(got, "Not saved: line ") {
				t.Errorf("save message %q, want the line of the first error", got)
			}
			if got := b.hash(); got != "#/environments/new" {
				t.Errorf("after a refused save the page is %q", got)
			}
			var list struct{ Total int }
			getJSON(t, base+"/api/v1/environments", &list)
			if list.Total != 2 {
				t.Errorf("%d environments stored after a refused save, want 2", list.Total)
			}
		}},
		{"an endpoint down is a warning with its error", func(t *testing.T, b *browser) {
			b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/environments/%d"`, broken.ID)))
			b.waitJS("the question about the editor's text", `document.getElementById("confirm-dialog").open`, 5*time.Second)
			b.do(chromedp.Click(chromedp.ID("confirm-ok")))
			b.waitJS("the warning", fmt.Sprintf(`document.getElementById("env-endpoints-down")?.textContent.includes(%q)`, dead), 10*time.Second)
			if got := evalJS[string](b, `document.getElementById("env-endpoints-down").textContent`); !strings.Contains(got, "refused") {
				t.Errorf("the warning says %q, want the dial's error", got)
			}
			if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('#env-endpoints-table tr[data-address=%q]')?.dataset.up`, dead)); got != "false" {
				t.Errorf("the endpoint's row says up=%q", got)
			}
			if b.count("#env-not-listening") != 0 {
				t.Error("it listens, yet the page says it does not")
			}
			b.waitJS("the graph's empty state", `document.querySelector("#env-graph-chart svg.graph-empty")?.textContent.includes("No traffic through this environment in the last minute")`, 10*time.Second)
			b.checkNames()
			b.checkNoStray()
		}},
		{"delete asks first", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.ID("env-delete")))
			b.waitJS("the confirmation", `document.getElementById("confirm-dialog").open`, 5*time.Second)
			b.do(chromedp.Click(chromedp.ID("confirm-cancel")))
			b.waitJS("the dialog to close", `!document.getElementById("confirm-dialog").open`, 5*time.Second)
			if code := getJSON(t, fmt.Sprintf("%s/api/v1/environments/%d", base, broken.ID), nil); code != http.StatusOK {
				t.Fatalf("a cancelled delete deleted it: %d", code)
			}
			b.do(chromedp.Click(chromedp.ID("env-delete")))
			b.waitJS("the confirmation", `document.getElementById("confirm-dialog").open`, 5*time.Second)
			b.do(chromedp.Click(chromedp.ID("confirm-ok")))
			b.waitJS("the list without it", `location.hash === "#/environments" && document.querySelectorAll("#environments-table tbody tr").length === 1`, 10*time.Second)
			if code := getJSON(t, fmt.Sprintf("%s/api/v1/environments/%d", base, broken.ID), nil); code != http.StatusNotFound {
				t.Errorf("after delete GET answers %d, want 404", code)
			}
		}},
	})
}

// An environment that cannot listen: the page and the list say so.
func TestEnvironmentsNotListening(t *testing.T) {
	e := withShop(t)
	db, stop, egress, shopHash := e.db, e.stop, e.egress, e.shopHash
	runSteps(t, e.b, []step{
		{"an environment whose egress is taken says it is not listening", func(t *testing.T, b *browser) {
			// A new server on the same database finds shop's egress taken.
			b.do(chromedp.Navigate("about:blank"))
			stop()
			ln, err := net.Listen("tcp", egress)
			if err != nil {
				t.Fatalf("take %s: %v", egress, err)
			}
			defer ln.Close()
			base2, _ := testserver.Start(t, server.Config{DB: db})
			b.do(chromedp.Navigate(base2 + "/ui/" + shopHash))
			b.waitJS("the not-listening panel", `document.getElementById("env-not-listening")?.textContent.includes("address already in use")`, 10*time.Second)
			if got := evalJS[string](b, `document.querySelector("#env-state .badge").textContent`); got != "not listening" {
				t.Errorf("the state shows %q", got)
			}
			b.waitJS("the graph saying it is not listening", `!!document.getElementById("env-graph-off")`, 5*time.Second)
			b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="environments"]`)))
			b.waitJS("the list's state", `document.querySelector('#environments-table tr[data-name="shop"] .env-state .badge')?.textContent === "not listening"`, 10*time.Second)
			if got := evalJS[string](b, `document.querySelector('#environments-table tr[data-name="shop"] .env-error')?.textContent ?? ""`); !strings.Contains(got, egress) {
				t.Errorf("the list's error %q, want it to name %s", got, egress)
			}
			b.checkNames()
			b.checkNoStray()
		}},
	})
}

// The service graph's drawing, checked in the browser on data of its own:
// columns by depth from the outside clients, one arrow per call with
// traffic, colours by the error ratio's thresholds, a fault badge on
// faulted calls, an arc for a call against the flow, and the empty state.
func TestEnvironmentsServiceGraphDrawing(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{})
	b := newBrowser(t, base)
	b.do(chromedp.Navigate(base + "/ui/#/environments"))
	b.waitJS("the dashboard", `document.querySelector("h1")?.textContent === "Environments"`, 10*time.Second)

	const data = `{windowSeconds: 60, edges: [
		{source: "unknown", destination: "front", windowRequests: 600, rps: 10, errorRatio: 0, p50Ms: 2, p99Ms: 9, requests: 900},
		{source: "front", destination: "cart", windowRequests: 600, rps: 10, errorRatio: 0.05, p50Ms: 3, p99Ms: 40, requests: 900},
		{source: "front", destination: "stock", windowRequests: 300, rps: 5, errorRatio: 0.5, p50Ms: 3, p99Ms: 1200, requests: 300, faulted: true},
		{source: "cart", destination: "stock", windowRequests: 60, rps: 1, errorRatio: 0, p50Ms: 1, p99Ms: 2, requests: 60},
		{source: "stock", destination: "front", windowRequests: 6, rps: 0.1, errorRatio: 0.0005, p50Ms: 1, p99Ms: 2, requests: 6},
		{source: "front", destination: "gone", windowRequests: 0, rps: 0, errorRatio: 0, p50Ms: 0, p99Ms: 0, requests: 5}]}`
	type drawn struct {
		Edges   []string `json:"edges"`
		Nodes   []string `json:"nodes"`
		Badges  []string `json:"badges"`
		Arcs    []string `json:"arcs"`
		Labels  []string `json:"labels"`
		Aria    string   `json:"aria"`
		Arrows  int      `json:"arrows"`
		Markers []string `json:"markers"`
	}
	got := evalModule[drawn](b, "/ui/js/graph.js", fmt.Sprintf(`(() => {
		const s = m.serviceGraph(%s, {label: "Test graph"});
		const q = (sel) => [...s.querySelectorAll(sel)];
		return {
			edges: q(".graph-edge").map((g) => g.dataset.source + ">" + g.dataset.destination + ":" + g.dataset.level + (g.classList.contains("faulted") ? ":faulted" : "")).sort(),
			nodes: q(".graph-node").map((g) => g.dataset.name + "@" + g.dataset.column + "." + g.dataset.row).sort(),
			badges: q(".graph-label").filter((l) => l.querySelector(".fault-badge")).map((l) => l.dataset.source + ">" + l.dataset.destination),
			arcs: q(".graph-edge").filter((g) => {
				const start = Number(/^M[\d.]+ ([\d.]+)/.exec(g.querySelector("path").getAttribute("d"))[1]);
				return start === Number(s.querySelector('.graph-node[data-name="' + g.dataset.source + '"] rect').getAttribute("y"));
			}).map((g) => g.dataset.source + ">" + g.dataset.destination),
			labels: q(".graph-label .edge-label").map((t) => t.textContent).sort(),
			aria: s.getAttribute("aria-label"),
			arrows: q(".graph-edge path[marker-end]").length,
			markers: q("marker").map((mk) => mk.getAttribute("class")).sort(),
		};
	})()`, data))
	if want := []string{"cart>stock:ok", "front>cart:warn", "front>stock:bad:faulted", "stock>front:ok", "unknown>front:ok"}; strings.Join(got.Edges, " ") != strings.Join(want, " ") {
		t.Errorf("edges %v, want %v (the idle call left out; amber from 0.1 %%, red from 10 %%)", got.Edges, want)
	}
	if want := []string{"cart@2.0", "front@1.0", "stock@3.0", "unknown@0.0"}; strings.Join(got.Nodes, " ") != strings.Join(want, " ") {
		t.Errorf("nodes %v, want %v (a column per longest path from the outside clients)", got.Nodes, want)
	}
	if strings.Join(got.Arcs, " ") != "stock>front" {
		t.Errorf("arcs over the nodes for %v, want stock>front only (the call against the flow)", got.Arcs)
	}
	if strings.Join(got.Badges, " ") != "front>stock" {
		t.Errorf("fault badges on %v, want front>stock only", got.Badges)
	}
	if got.Arrows != 5 || len(got.Markers) != 3 {
		t.Errorf("%d arrows with %d markers, want 5 arrows, markers %v", got.Arrows, len(got.Markers), got.Markers)
	}
	if want := []string{"0.1 rps0.05 %p99 2.00 ms", "1 rps0.0 %p99 2.00 ms", "10 rps0.0 %p99 9.00 ms", "10 rps5.0 %p99 40.0 ms", "5 rps50.0 %p99 1.20 s"}; strings.Join(got.Labels, "|") != strings.Join(want, "|") {
		t.Errorf("labels %q, want %q", got.Labels, want)
	}
	if !strings.Contains(got.Aria, "front → stock: 5 rps, 50.0 % errors, p50 3.00 ms, p99 1.20 s") || !strings.Contains(got.Aria, "5 calls among 4 services") {
		t.Errorf("accessible name %q", got.Aria)
	}

	// The same data gives the same drawing.
	same := evalModule[bool](b, "/ui/js/graph.js", fmt.Sprintf(`m.serviceGraph(%s).outerHTML.replace(/sg\d+/g, "") === m.serviceGraph(%s).outerHTML.replace(/sg\d+/g, "")`, data, data))
	if !same {
		t.Error("two drawings of the same data differ")
	}
	empty := evalModule[string](b, "/ui/js/graph.js", `m.serviceGraph({windowSeconds: 60, edges: [{source: "unknown", destination: "a", windowRequests: 0, requests: 3}]}).textContent`)
	if !strings.Contains(empty, "No traffic through this environment in the last minute") {
		t.Errorf("a graph without traffic in the window says %q", empty)
	}
	b.checkConsole()
}
