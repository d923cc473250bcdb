package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/server"
)

type leverJSON struct {
	Engaged bool   `json:"engaged"`
	Reason  string `json:"reason"`
	By      string `json:"by"`
	Since   string `json:"since"`
}

// The safety lever from the dashboard: a reason is required, engaging asks
// first, the banner follows to every page, Run now is refused with the
// lever's reason, and releasing clears it all.
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

	// Another page: the banner and the nav say so; Run now is refused with the reason.
	b.do(chromedp.Click(chromedp.CSS(`nav a[data-nav="experiments"]`)))
	row := `#experiments-table tr[data-name="httpbin-abort"]`
	b.waitJS("the experiments", fmt.Sprintf(`!!document.querySelector('%s')`, row), 10*time.Second)
	if !evalJS[bool](b, `!document.getElementById("lever-banner").hidden && !document.getElementById("nav-lever").hidden && !!document.querySelector("#lever-banner a[href='#/safety']")`) {
		t.Error("the experiments page does not show the engaged lever in the banner and the nav")
	}
	b.expectFailures("/runs") // the refused start answers 409
	b.do(chromedp.Click(chromedp.CSS(row + " button.run-now")))
	b.waitJS("the refusal", fmt.Sprintf(`!document.getElementById("toast").hidden && document.getElementById("toast").textContent.includes(%q)`, reason), 10*time.Second)
	if got := b.hash(); got != "#/experiments" {
		t.Errorf("a refused run navigated to %s", got)
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
	b.checkConsole()
}
