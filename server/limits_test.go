package server_test

// What a stranger's document cannot make a default server do (issue 13,
// items 2–5): start containers it was not allowed, post webhooks to the
// machine's neighbours, hold the run slots, or spend its memory. Each is
// tried over real HTTP against a real server.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/server"
	"github.com/faultline/faultline/server/safety"
	"github.com/faultline/faultline/server/webhook"
)

// containerDoc is an experiment whose one endpoint is the given container.
func containerDoc(name, container string) string {
	return `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: ` + name + `}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - container: ` + container + `
  load: {url: "http://httpbin:8000/get", requests: 5}
`
}

// refusedAt posts a document and checks it is refused with 422 at field,
// the message saying each of want.
func refusedAt(t *testing.T, c client, path, doc, field string, want ...string) {
	t.Helper()
	var e errorJSON
	c.json("POST", path, "application/yaml", []byte(doc), http.StatusUnprocessableEntity, &e)
	if e.Error.Field != field {
		t.Errorf("refusal %+v, want field %s", e.Error, field)
	}
	for _, w := range want {
		if !strings.Contains(e.Error.Message, w) {
			t.Errorf("refusal %q does not say %q", e.Error.Message, w)
		}
	}
}

// total is the number of items a list route has.
func total(t *testing.T, c client, path string) int64 {
	t.Helper()
	var l struct{ Total int64 }
	c.json("GET", path, "", nil, 200, &l)
	return l.Total
}

func TestContainersFromTheAPIMeetTheServersPolicy(t *testing.T) {
	const ctr = "spec.services[0].endpoints[0].container"
	t.Run("a default server starts no container for a document it is sent", func(t *testing.T) {
		c := serve(t, server.Config{})
		refusedAt(t, c, "/api/v1/experiments", containerDoc("root", `{build: {context: /}, port: 8080}`), ctr+".build.context", "serve --allow-build-dir")
		refusedAt(t, c, "/api/v1/experiments", containerDoc("up", `{build: {context: ../..}, port: 8080}`), ctr+".build.context", "serve --allow-build-dir")
		refusedAt(t, c, "/api/v1/experiments", containerDoc("shell", `{image: "alpine:3", port: 8080, cmd: [sh, -c, "cat /etc/shadow"]}`), ctr+".image", "serve --allow-image")
		if n := total(t, c, "/api/v1/experiments"); n != 0 {
			t.Errorf("%d experiments stored, want none", n)
		}
	})

	t.Run("a server with a policy holds documents to it", func(t *testing.T) {
		root := t.TempDir()
		targets := filepath.Join(root, "targets")
		if err := os.MkdirAll(filepath.Join(targets, "httpbin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/", filepath.Join(targets, "escape")); err != nil {
			t.Fatal(err)
		}
		c := serve(t, server.Config{AllowBuildDirs: []string{targets}, AllowImages: []string{"faultline-demo:*"}})
		refusedAt(t, c, "/api/v1/experiments", containerDoc("root", `{build: {context: /}, port: 8080}`), ctr+".build.context", "is not under a directory this server builds from")
		refusedAt(t, c, "/api/v1/experiments", containerDoc("up", `{build: {context: ../..}, port: 8080}`), ctr+".build.context", "is relative")
		refusedAt(t, c, "/api/v1/experiments", containerDoc("link", `{build: {context: "`+filepath.Join(targets, "escape")+`"}, port: 8080}`), ctr+".build.context", "its links resolved")
		refusedAt(t, c, "/api/v1/experiments", containerDoc("shell", `{image: "alpine:3", port: 8080}`), ctr+".image", "matches none of the images")
		c.json("POST", "/api/v1/experiments", "application/yaml", []byte(containerDoc("built", `{build: {context: "`+filepath.Join(targets, "httpbin")+`"}, port: 8080}`)), 201, nil)
		c.json("POST", "/api/v1/experiments", "application/yaml", []byte(containerDoc("image", `{image: "faultline-demo:local", port: 8080}`)), 201, nil)

		// The editor's check says the same, at the field's line.
		var v validation
		c.json("POST", "/api/v1/validate", "application/yaml", []byte(containerDoc("root", `{build: {context: /}, port: 8080}`)), 200, &v)
		if v.Valid || len(v.Problems) != 1 || v.Problems[0].Path != ctr+".build.context" || v.Problems[0].Line != 9 {
			t.Errorf("validation = %+v, want one problem at %s.build.context, line 9", v, ctr)
		}
	})

	t.Run("an experiment stored before the policy changed is checked when it runs", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "faultline.db")
		base, stop := testserver.Start(t, server.Config{DB: db, AllowImages: []string{"faultline-demo:*"}})
		var exp experimentJSON
		client{t: t, base: base}.json("POST", "/api/v1/experiments", "application/yaml", []byte(containerDoc("image", `{image: "faultline-demo:local", port: 8080}`)), 201, &exp)
		stop()

		after := serve(t, server.Config{DB: db})
		var e errorJSON
		after.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", exp.ID), "", nil, http.StatusUnprocessableEntity, &e)
		if e.Error.Field != ctr+".image" || !strings.Contains(e.Error.Message, "--allow-image") {
			t.Errorf("refusal %+v", e.Error)
		}
		if n := total(t, after, "/api/v1/runs"); n != 0 {
			t.Errorf("%d runs recorded, want none", n)
		}
	})
}

func TestGameDayWebhooksMeetTheTargetRules(t *testing.T) {
	const field = "spec.notify.webhook.url"
	hookDay := func(name, url string) string {
		return shortGameDay(name, "  notify: {webhook: {url: \""+url+"\"}}\n")
	}
	recv := &hookReceiver{}
	hook := httptest.NewServer(recv)
	t.Cleanup(hook.Close)

	t.Run("refused when saved", func(t *testing.T) {
		c := serve(t, server.Config{})
		storeExperiments(t, c, steadyHTTPBin)
		for _, tc := range []struct{ name, url, want string }{
			{"metadata", "http://169.254.169.254/latest/meta-data/iam/", "169.254.169.254 is not a public address"},
			{"private", "http://10.1.2.3:8080/hook", "10.1.2.3 is not a public address"},
			{"ipv6-private", "http://[fd12::1]/hook", "not a public address"},
			{"loopback", hook.URL + "/hook", "widen it with --allow 127.0.0.1"},
			{"password", "https://ops:hunter2@hooks.example.com/hook", "user name or password"},
		} {
			var e errorJSON
			c.json("POST", "/api/v1/gamedays", "application/yaml", []byte(hookDay(tc.name, tc.url)), http.StatusUnprocessableEntity, &e)
			if e.Error.Field != field || !strings.Contains(e.Error.Message, tc.want) || !strings.Contains(e.Error.Message, "(line 7)") || strings.Contains(e.Error.Message, "hunter2") {
				t.Errorf("%s: refusal %+v, want %s at line 7 saying %q", tc.name, e.Error, field, tc.want)
			}
		}
		if n := total(t, c, "/api/v1/gamedays"); n != 0 {
			t.Errorf("%d game days stored, want none", n)
		}
	})

	t.Run("delivered to a loopback receiver the allow-list names", func(t *testing.T) {
		c := serve(t, server.Config{Allow: []string{"127.0.0.1"}})
		storeExperiments(t, c, steadyHTTPBin)
		g := postGameDay(t, c, hookDay("allowed", hook.URL+"/hook"))
		run := startGameDay(t, c, g.ID)
		got := waitGameDay(t, c, run.ID, 30*time.Second, func(r gameDayAPIRun) bool { return ended(r) && len(r.Webhooks) > 0 })
		if w := got.Webhooks[0]; w.StatusCode != 204 || w.Error != "" || len(recv.got()) != 1 {
			t.Errorf("delivery %+v, receiver got %d", w, len(recv.got()))
		}
	})

	t.Run("refused when delivered, and failures recorded as classes", func(t *testing.T) {
		// Stored while the allow-list named them, delivered after it no
		// longer does (or to a port where nothing listens).
		closed := httptest.NewServer(http.NotFoundHandler())
		closedURL := closed.URL
		closed.Close()
		db := filepath.Join(t.TempDir(), "faultline.db")
		var ids []int64
		func() {
			base, stop := testserver.Start(t, server.Config{DB: db, Allow: []string{"10.0.0.0/8", "127.0.0.1"}})
			defer stop()
			c := client{t: t, base: base}
			storeExperiments(t, c, steadyHTTPBin)
			for _, d := range []string{hookDay("private", "http://10.255.255.1:9/hook"), hookDay("nothing-listens", closedURL+"/hook")} {
				ids = append(ids, postGameDay(t, c, d).ID)
			}
		}()
		c := serve(t, server.Config{DB: db, Allow: []string{"127.0.0.1"}})
		for i, want := range []string{webhook.FailRefused, webhook.FailConnRefused} {
			run := startGameDay(t, c, ids[i])
			got := waitGameDay(t, c, run.ID, 30*time.Second, func(r gameDayAPIRun) bool { return ended(r) && len(r.Webhooks) > 0 })
			w := got.Webhooks[0]
			if w.Error != want || w.StatusCode != 0 {
				t.Errorf("delivery %+v, want the class %q", w, want)
			}
			if _, port, _ := net.SplitHostPort(strings.TrimPrefix(closedURL, "http://")); strings.Contains(w.Error, port) || strings.Contains(w.Error, "dial") {
				t.Errorf("the record %q repeats the network's words", w.Error)
			}
		}
	})
}

func TestTimesADocumentAsksForHaveCeilings(t *testing.T) {
	c := serve(t, server.Config{})
	slow := func(load, delay string) string {
		return `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: slow}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}]
  load: {url: "http://httpbin:8000/get", duration: 2s, timeout: ` + load + `}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - fault: {delay: {fixedDelay: ` + delay + `, percentage: {value: 100}}}
    route: [{destination: {host: httpbin}}]
`
	}
	refusedAt(t, c, "/api/v1/experiments", slow("1h", "1s"), "spec.load.timeout", "above the ceiling of 5m0s", "(line 6)")
	refusedAt(t, c, "/api/v1/experiments", slow("3s", "1h"), "spec.http[0].fault.delay.fixedDelay", "above the ceiling of 5m0s", "(line 14)")
	if n := total(t, c, "/api/v1/experiments"); n != 0 {
		t.Errorf("%d experiments stored, want none", n)
	}
}

func TestARunStopsAtItsWallClockCap(t *testing.T) {
	// A count of calls paced slower than the server's longest load: 1,000
	// calls at 20 a second would take 50 s; the server allows 2 s, a
	// 100 ms timeout (2 × 100 ms for the warm-up and last calls) and a
	// grace of 300 ms.
	lim := safety.DefaultLimits
	lim.MaxDuration, lim.Grace = 2*time.Second, 300*time.Millisecond
	c := serve(t, server.Config{Limits: lim})
	var exp experimentJSON
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: paced}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}]
  load: {url: "http://httpbin:8000/get", requests: 1000, qps: 20, connections: 2, timeout: 100ms}
`), 201, &exp)
	start := time.Now()
	r := waitRun(t, c, startRun(t, c, exp.ID))
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("the run took %s", took)
	}
	if r.Status != "stopped" || !strings.Contains(r.Reason, "wall-clock cap of 2.5s") {
		t.Errorf("run %s: %q, want stopped at the cap of 2.5s", r.Status, r.Reason)
	}
}

func TestTheRunQueueIsBounded(t *testing.T) {
	c := serve(t, server.Config{MaxConcurrentRuns: 1, MaxQueuedRuns: 2})
	var exp experimentJSON
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: long}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}]
  load: {url: "http://httpbin:8000/get", duration: 1m, qps: 5}
`), 201, &exp)
	var started []int64
	for range 3 { // one runs, two wait
		started = append(started, startRun(t, c, exp.ID))
	}
	resp, body := c.do("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", exp.ID), "", nil)
	var e errorJSON
	_ = json.Unmarshal(body, &e)
	if resp.StatusCode != http.StatusTooManyRequests || e.Error.Code != "queue_full" || resp.Header.Get("Retry-After") == "" || !strings.Contains(e.Error.Message, "--max-queued") {
		t.Errorf("fourth start: %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if n := total(t, c, "/api/v1/runs"); n != 3 {
		t.Errorf("%d runs recorded, want 3", n)
	}
	// A place frees when a run ends.
	c.json("POST", fmt.Sprintf("/api/v1/runs/%d/stop", started[2]), "", nil, http.StatusAccepted, nil)
	waitRun(t, c, started[2])
	started = append(started, startRun(t, c, exp.ID))
	for _, id := range started {
		c.do("POST", fmt.Sprintf("/api/v1/runs/%d/stop", id), "", nil)
	}
}

// nestedGameDay is issue 13's hostile game day: parallel groups nested
// depth deep in flow style, 14 bytes a level.
func nestedGameDay(depth int) []byte {
	return []byte("apiVersion: faultline.dev/v1alpha1\nkind: GameDay\nmetadata: {name: deep}\nspec:\n  steadyState: steady\n  steps: " +
		strings.Repeat("[{parallel: ", depth) + "[{wait: 1s}]" + strings.Repeat("}]", depth) + "\n")
}

// heapCeiling is the most the heap may grow while 16 hostile documents
// are refused at once: before nesting was bounded each cost about 300 MiB.
const heapCeiling = 64 << 20

func TestHostileDocumentsKeepTheHeapFlat(t *testing.T) {
	c := serve(t, server.Config{})
	doc := nestedGameDay(4300) // 60 KB
	if len(doc) < 58<<10 || len(doc) > 62<<10 {
		t.Fatalf("the hostile document is %d bytes", len(doc))
	}
	routes := []string{"/api/v1/gamedays", "/api/v1/experiments", "/api/v1/environments", "/api/v1/validate"}

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak := base.HeapAlloc
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 16 {
		wg.Go(func() {
			resp, body := c.do("POST", routes[i%len(routes)], "application/yaml", doc)
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
			if !strings.Contains(string(body), "nests deeper than 64 levels") {
				t.Errorf("%s: %d %.200s", routes[i%len(routes)], resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := peak - base.HeapAlloc
	t.Logf("16 hostile requests of %d bytes: heap grew by at most %.1f MiB, %.1f MiB allocated in all; statuses %v",
		len(doc), float64(grew)/(1<<20), float64(after.TotalAlloc-base.TotalAlloc)/(1<<20), statuses)
	if grew > heapCeiling {
		t.Errorf("the heap grew by %.1f MiB, above the ceiling of %d MiB", float64(grew)/(1<<20), heapCeiling>>20)
	}
	if statuses[http.StatusUnprocessableEntity]+statuses[http.StatusOK] != 16 {
		t.Errorf("statuses %v, want 422 (200 from /validate, with the problem)", statuses)
	}
}

func TestListsLeaveTheDocumentsOut(t *testing.T) {
	c := serve(t, server.Config{})
	big := strings.Repeat("x", 200<<10)
	for i := range 5 {
		c.json("POST", "/api/v1/experiments", "application/yaml", []byte(fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: big-%d}
spec:
  services: [{host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}]
  load: {url: "http://httpbin:8000/post", method: POST, requests: 1, body: %s}
`, i, big)), 201, nil)
	}
	storeExperiments(t, c, steadyHTTPBin)
	postGameDay(t, c, shortGameDay("listed", ""))
	for _, path := range []string{"/api/v1/experiments", "/api/v1/gamedays"} {
		resp, body := c.do("GET", path, "", nil)
		var l struct{ Items []map[string]json.RawMessage }
		if err := json.Unmarshal(body, &l); err != nil || resp.StatusCode != 200 || len(l.Items) == 0 {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		if len(body) > 16<<10 {
			t.Errorf("GET %s is %d bytes", path, len(body))
		}
		for _, it := range l.Items {
			if _, ok := it["source"]; ok {
				t.Errorf("GET %s: an item has its source", path)
			}
			if _, ok := it["name"]; !ok {
				t.Errorf("GET %s: an item has no name", path)
			}
		}
		// GET by id keeps it.
		var one map[string]json.RawMessage
		c.json("GET", fmt.Sprintf("%s/%s", path, l.Items[0]["id"]), "", nil, 200, &one)
		if len(one["source"]) < 10 {
			t.Errorf("GET %s/%s has no source", path, l.Items[0]["id"])
		}
	}
}
