package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server"
)

// leverWatch is how long a page takes, at most, to see the lever move
// without being told: the dashboard reads it every 5 s.
const leverWatch = 10 * time.Second

// pauseLeverWatch makes the page a background tab, which does not read the
// lever every few seconds, so that it does not know of a lever moved until
// something tells it; resumeLeverWatch brings it back to the foreground.
func (b *browser) pauseLeverWatch() {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](`Object.defineProperty(document, "hidden", {configurable: true, get: () => true})`))
}

func (b *browser) resumeLeverWatch() {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](`delete document.hidden`))
}

// expectHeld fails unless every button sel finds (and there is one) is
// disabled and says why: the lever's reason in its title, and in the
// description its aria-describedby names.
func (b *browser) expectHeld(reason string, sels ...string) {
	b.t.Helper()
	for _, sel := range sels {
		problems := evalJS[[]string](b, fmt.Sprintf(`(() => {
			const bs = [...document.querySelectorAll(%q)], out = [];
			if (!bs.length) out.push("no button");
			for (const b of bs) {
				const ids = (b.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
				const described = ids.map((id) => document.getElementById(id)?.textContent ?? "").join(" ");
				if (!b.disabled) out.push(b.outerHTML.slice(0, 80) + " is enabled");
				if (!(b.title || "").includes(%q)) out.push("title " + JSON.stringify(b.title) + " does not give the reason");
				if (!described.includes(%q)) out.push("description " + JSON.stringify(described) + " does not give the reason");
			}
			return out;
		})()`, sel, reason, reason))
		for _, p := range problems {
			b.t.Errorf("%s on %s, with the lever engaged: %s", sel, b.hash(), p)
		}
	}
}

// expectFree fails unless every button sel finds (and there is one) is
// enabled, with no word of the lever.
func (b *browser) expectFree(sels ...string) {
	b.t.Helper()
	for _, sel := range sels {
		problems := evalJS[[]string](b, fmt.Sprintf(`(() => {
			const bs = [...document.querySelectorAll(%q)], out = [];
			if (!bs.length) out.push("no button");
			for (const b of bs) {
				if (b.disabled) out.push(b.outerHTML.slice(0, 80) + " is disabled");
				if ((b.title || "").includes("lever") || (b.getAttribute("aria-describedby") || "").includes("lever-why")) out.push("it still speaks of the lever: " + b.outerHTML.slice(0, 160));
			}
			return out;
		})()`, sel))
		for _, p := range problems {
			b.t.Errorf("%s on %s, with the lever released: %s", sel, b.hash(), p)
		}
	}
}

type leverJSON struct {
	Engaged bool   `json:"engaged"`
	Reason  string `json:"reason"`
	By      string `json:"by"`
	Since   string `json:"since"`
}

// The safety lever from the dashboard: a reason is required, engaging asks
// first, the banner follows to every page, Run is held with the lever's
// reason, and releasing clears it all.
func TestDashboardSafetyLever(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{LoadExamples: true})
	b := newBrowser(t, base)
	const reason = "incident 42: checkout is down"

	b.do(chromedp.Navigate(base + "/ui/#/safety"))
	b.waitJS("the released lever", `document.getElementById("lever-state-title")?.textContent === "Released" && !!document.getElementById("lever-engage")`, 10*time.Second)
	if !evalJS[bool](b, `document.getElementById("lever-banner").hidden && document.getElementById("nav-lever").hidden`) {
		t.Error("banner or nav pill shown while the lever is released")
	}
	b.checkNames()

	// No reason: the field says so and nothing is posted.
	b.do(chromedp.Click(chromedp.ID("lever-engage")))
	b.waitJS("the reason's error", `!document.getElementById("lever-reason-error").hidden && document.activeElement.id === "lever-reason"`, 5*time.Second)
	if evalJS[bool](b, `document.getElementById("confirm-dialog").open`) {
		t.Error("asked to confirm an engage without a reason")
	}
	var lever leverJSON
	getJSON(t, base+"/api/v1/safety/lever", &lever)
	if lever.Engaged {
		t.Fatal("the lever engaged without a reason")
	}

	// Engage, cancelling once first.
	b.do(chromedp.SendKeys(chromedp.ID("lever-reason"), reason), chromedp.SendKeys(chromedp.ID("lever-by"), "ops-ui"))
	b.do(chromedp.Click(chromedp.ID("lever-engage")))
	b.waitJS("the confirmation", `document.getElementById("confirm-dialog").open`, 5*time.Second)
	b.do(chromedp.Click(chromedp.ID("confirm-cancel")))
	b.waitJS("the dialog to close", `!document.getElementById("confirm-dialog").open`, 5*time.Second)
	getJSON(t, base+"/api/v1/safety/lever", &lever)
	if lever.Engaged {
		t.Fatal("a cancelled engage engaged the lever")
	}
	b.do(chromedp.Click(chromedp.ID("lever-engage")))
	b.waitJS("the confirmation", `document.getElementById("confirm-dialog").open`, 5*time.Second)
	b.do(chromedp.Click(chromedp.ID("confirm-ok")))
	b.waitJS("the engaged lever and its banner", fmt.Sprintf(`document.getElementById("lever-state-title")?.textContent === "Engaged" && !document.getElementById("lever-banner").hidden
		&& document.getElementById("lever-banner-reason").textContent === %q`, reason), 10*time.Second)
	getJSON(t, base+"/api/v1/safety/lever", &lever)
	if !lever.Engaged || lever.Reason != reason || lever.By != "ops-ui" || lever.Since == "" {
		t.Fatalf("lever after engaging: %+v", lever)
	}
	if got := evalJS[string](b, `document.getElementById("lever-banner").textContent`); !strings.Contains(got, "by ops-ui") || !strings.Contains(got, "since ") {
		t.Errorf("banner %q does not say since when and by whom", got)
	}
	b.checkNames()
	b.screenshot("safety-lever.png")

	// Another page: the banner and the nav say so; Run is held, with the reason.
	b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="experiments"]`)))
	row := `#experiments-table tr[data-name="httpbin-abort"]`
	b.waitJS("the experiments", fmt.Sprintf(`!!document.querySelector('%s')`, row), 10*time.Second)
	if !evalJS[bool](b, `!document.getElementById("lever-banner").hidden && !document.getElementById("nav-lever").hidden && !!document.querySelector("#lever-banner a[href='#/safety']")`) {
		t.Error("the experiments page does not show the engaged lever in the banner and the nav")
	}
	b.expectHeld(reason, row+" button.run-now")
	b.do(chromedp.Click(chromedp.CSS(row + " button.run-now")))
	if got := b.hash(); got != "#/experiments" {
		t.Errorf("a held Run navigated to %s", got)
	}
	var runs struct{ Total int }
	getJSON(t, base+"/api/v1/runs", &runs)
	if runs.Total != 0 {
		t.Errorf("%d runs stored while the lever is engaged", runs.Total)
	}

	// Release from the banner's link.
	b.do(chromedp.Click(chromedp.CSS(`#lever-banner a[href='#/safety']`)))
	b.waitJS("the release form", `!!document.getElementById("lever-release")`, 10*time.Second)
	b.do(chromedp.SendKeys(chromedp.ID("lever-release-reason"), "checkout is back"))
	b.do(chromedp.Click(chromedp.ID("lever-release")))
	b.waitJS("the confirmation", `document.getElementById("confirm-dialog").open`, 5*time.Second)
	b.do(chromedp.Click(chromedp.ID("confirm-ok")))
	b.waitJS("the released lever, no banner", `document.getElementById("lever-state-title")?.textContent === "Released" && document.getElementById("lever-banner").hidden && document.getElementById("nav-lever").hidden`, 10*time.Second)
	getJSON(t, base+"/api/v1/safety/lever", &lever)
	if lever.Engaged {
		t.Errorf("lever after releasing: %+v", lever)
	}
	b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="experiments"]`)))
	b.waitJS("the experiments", fmt.Sprintf(`!!document.querySelector('%s')`, row), 10*time.Second)
	b.expectFree(row + " button.run-now")
	b.checkConsole()
}

// Every button that starts something the lever refuses — Run on the
// experiments and game days, Run now, Run again, Add overlay — is disabled
// while the lever is engaged, saying why, on every page that has one; and
// the page frees it (or holds it) as soon as it reads the lever move,
// without being reloaded.
func TestDashboardLeverHoldsStarts(t *testing.T) {
	needChromium(t)
	base, _ := testserver.Start(t, server.Config{LoadExamples: true})
	b := newBrowser(t, base)

	// Something of each kind to start again: a run, a game-day run, an environment.
	var exps experimentList
	getJSON(t, base+"/api/v1/experiments?limit=500", &exps)
	var expID int64
	for _, e := range exps.Items {
		if e.Name == "httpbin-steady-state" {
			expID = e.ID
		}
	}
	if expID == 0 {
		t.Fatal("no example httpbin-steady-state")
	}
	runExample(t, base, expID)
	var runs struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	getJSON(t, base+"/api/v1/runs", &runs)
	if len(runs.Items) != 1 {
		t.Fatalf("%d runs, want 1", len(runs.Items))
	}
	runID := runs.Items[0].ID

	var gd gameDayJSON
	if code := postYAML(t, base+"/api/v1/gamedays", `apiVersion: faultline.dev/v1alpha1
kind: GameDay
metadata: {name: held}
spec:
  steadyState: httpbin-steady-state
  steps:
  - wait: 10ms
`, &gd); code != http.StatusCreated {
		t.Fatalf("create a game day: %d", code)
	}
	var gdRun gameDayRunJSON
	if code := sendJSON(t, http.MethodPost, fmt.Sprintf("%s/api/v1/gamedays/%d/runs", base, gd.ID), "", &gdRun); code != http.StatusAccepted && code != http.StatusCreated {
		t.Fatalf("start the game day: %d", code)
	}
	wait.For(t, 20*time.Second, fmt.Sprintf("game-day run %d to end", gdRun.ID), func() bool {
		getJSON(t, fmt.Sprintf("%s/api/v1/gameday-runs/%d", base, gdRun.ID), &gdRun)
		return gdRun.Status != "" && gdRun.Status != "queued" && gdRun.Status != "running"
	})

	var env environmentJSON
	if code := postYAML(t, base+"/api/v1/environments", brokenEnvironment(freeAddr(t), freeAddr(t)), &env); code != http.StatusCreated {
		t.Fatalf("create an environment: %d", code)
	}

	pages := []struct{ hash, title, buttons string }{
		{"#/experiments", "Experiments", "#experiments-table button.run-now"},
		{fmt.Sprintf("#/experiments/%d", expID), "httpbin-steady-state", "#run-now"},
		{"#/gamedays", "Game days", "#gamedays-table button.run-now"},
		{fmt.Sprintf("#/gamedays/%d", gd.ID), "held", "#gd-run-now"},
		{fmt.Sprintf("#/gameday-runs/%d", gdRun.ID), fmt.Sprintf("Game-day run #%d", gdRun.ID), "#gd-run-again"},
		{fmt.Sprintf("#/environments/%d", env.ID), "broken", "#overlay-add"},
		{fmt.Sprintf("#/runs/%d", runID), fmt.Sprintf("Run #%d", runID), "#rerun"},
	}
	open := func(hash, title, buttons string) {
		t.Helper()
		b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, hash)))
		b.waitJS(hash, fmt.Sprintf(`document.querySelector("h1")?.textContent === %q && !!document.querySelector(%q)`, title, buttons), 10*time.Second)
	}

	b.do(chromedp.Navigate(base + "/ui/#/safety"))
	b.waitJS("the dashboard", `!!document.getElementById("lever-state")`, 10*time.Second)
	for _, p := range pages {
		open(p.hash, p.title, p.buttons)
		b.expectFree(p.buttons)
	}

	const reason = "incident 91: the database is failing over"
	if code := sendJSON(t, http.MethodPost, base+"/api/v1/safety/lever", fmt.Sprintf(`{"engaged": true, "reason": %q, "by": "ops"}`, reason), nil); code != http.StatusOK {
		t.Fatalf("engage the lever: %d", code)
	}
	// On the page open when the lever moved: held as soon as the page reads it.
	last := pages[len(pages)-1]
	b.waitJS("Run again held, without a reload", fmt.Sprintf(`document.querySelector(%q).disabled`, last.buttons), leverWatch)
	b.expectHeld(reason, last.buttons)
	if got := evalJS[string](b, `document.getElementById("lever-why").textContent`); !strings.Contains(got, "by ops") {
		t.Errorf("the reason given to the buttons, %q, does not say who engaged the lever", got)
	}
	// On every page: held from the start.
	for _, p := range pages {
		open(p.hash, p.title, p.buttons)
		b.waitJS("the lever read", `!document.getElementById("lever-banner").hidden`, 10*time.Second)
		b.expectHeld(reason, p.buttons)
		b.checkNames()
	}

	// Released: freed without a reload, the button's own title back.
	if code := sendJSON(t, http.MethodPost, base+"/api/v1/safety/lever", `{"engaged": false}`, nil); code != http.StatusOK {
		t.Fatalf("release the lever: %d", code)
	}
	b.waitJS("Run again enabled, without a reload", `!document.getElementById("rerun").disabled`, leverWatch)
	b.expectFree(last.buttons)
	if got := evalJS[string](b, `document.getElementById("rerun").title`); !strings.Contains(got, "same fault decisions") {
		t.Errorf("Run again's title after the release is %q, want its own back", got)
	}
	for _, p := range pages {
		open(p.hash, p.title, p.buttons)
		b.expectFree(p.buttons)
	}
	b.checkConsole()
}
