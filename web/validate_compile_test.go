package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// reachesDNS is an experiment whose load goes to a host a ServiceEntry
// resolves by DNS, which Faultline never does: the proxy would answer
// 503 UH, so the run is refused. A typo sits in its hypothesis.
const reachesDNS = `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata:
  name: ui-dns
spec:
  load:
    url: http://api.example.com/
    requests: 5
  hypothesis:
  - {metric: error_ratio, op: "<", value: 0.5}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: ext
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
`

// The editor shows what a run would find, not only what the document
// says: the proxy compiler's warning at the ServiceEntry's resolution
// line, the load's error at its URL line, and "did you mean" for a
// misspelt field.
func TestDashboardEditorShowsWhatARunWouldFind(t *testing.T) {
	base, b, _ := withExamples(t)
	b.do(chromedp.Navigate(base + "/"))
	b.waitJS("the experiments list", `!!document.getElementById("new-experiment")`, 10*time.Second)
	lineOf := func(doc, part string) int {
		for i, l := range strings.Split(doc, "\n") {
			if strings.Contains(l, part) {
				return i + 1
			}
		}
		t.Fatalf("%q not in the document", part)
		return 0
	}
	marks := func(sev string) string {
		return evalJS[string](b, fmt.Sprintf(`[...document.querySelectorAll(".editor-gutter .ln.%s")].map(e => e.textContent).join()`, sev))
	}
	message := func(sev string, line int) string {
		return evalJS[string](b, fmt.Sprintf(`document.querySelector('.mark-msg.%s[data-line="%d"]')?.textContent ?? ""`, sev, line))
	}
	runSteps(t, b, []step{
		{"the load reaching a DNS ServiceEntry is an error at the URL, the cause a warning at its line", func(t *testing.T, b *browser) {
			b.do(chromedp.Click(chromedp.ID("new-experiment")))
			b.waitJS("the editor with the template, valid", `document.getElementById("validation-status")?.dataset.state === "valid"`, 10*time.Second)
			b.setValue("yaml", "")
			b.do(chromedp.SendKeys(chromedp.ID("yaml"), reachesDNS))
			urlLine, resolutionLine := lineOf(reachesDNS, "url:"), lineOf(reachesDNS, "resolution: DNS")
			b.waitJS("the error at the load's URL", fmt.Sprintf(
				`[...document.querySelectorAll(".editor-gutter .ln.error")].map(e => e.textContent).join() === "%d"`, urlLine), 10*time.Second)
			if got := marks("warning"); got != fmt.Sprint(resolutionLine) {
				t.Errorf("warning marks at lines %q, want %d", got, resolutionLine)
			}
			if msg := message("error", urlLine); !strings.Contains(msg, "cannot take them here") || !strings.Contains(msg, "resolution DNS") {
				t.Errorf("message at line %d = %q, want the load's error naming its cause", urlLine, msg)
			}
			if msg := message("warning", resolutionLine); !strings.Contains(msg, "503 UH") {
				t.Errorf("message at line %d = %q, want what the proxy does instead", resolutionLine, msg)
			}
		}},
		{"a misspelt field says what it probably meant", func(t *testing.T, b *browser) {
			typo := strings.Replace(reachesDNS, "requests: 5", "reqests: 5", 1)
			b.setValue("yaml", "")
			b.do(chromedp.SendKeys(chromedp.ID("yaml"), typo))
			line := lineOf(typo, "reqests")
			b.waitJS("the unknown field's error", fmt.Sprintf(`!!document.querySelector('.mark-msg.error[data-line="%d"]')`, line), 10*time.Second)
			if msg := message("error", line); !strings.Contains(msg, `did you mean "requests"?`) {
				t.Errorf("message at line %d = %q, want a did-you-mean", line, msg)
			}
			b.checkNames()
		}},
	})
}
