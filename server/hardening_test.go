package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/server"
)

// header is what a browser (or another client) puts on a request; "Host"
// replaces the Host header.
type header map[string]string

// send makes one request with h and returns the status and the error
// body, if the answer is one.
func send(t *testing.T, base, method, path string, h header, body string) (int, errorJSON) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var e errorJSON
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(out, &e); err != nil {
			t.Errorf("%s %s: %d with a body that is not a JSON error: %s", method, path, resp.StatusCode, out)
		}
	}
	return resp.StatusCode, e
}

type auditEntryJSON struct {
	Actor, Role, Method, Route, Path, Object, Detail, Remote string
	Status                                                   int
}

// auditLog reads the newest page of the audit log.
func auditLog(t *testing.T, c client) []auditEntryJSON {
	t.Helper()
	var page struct {
		Items []auditEntryJSON `json:"items"`
	}
	c.json("GET", "/api/v1/audit", "", nil, 200, &page)
	return page.Items
}

// A page the operator visits while a token-less server runs on loopback
// tries every write a browser can send it; none gets through, and nothing
// changes.
func TestPagesOnOtherSitesCannotWrite(t *testing.T) {
	c := serve(t, server.Config{LoadExamples: true})
	host := strings.TrimPrefix(c.base, "http://")
	var list struct{ Items []experimentJSON }
	c.json("GET", "/api/v1/experiments", "", nil, 200, &list)
	victim := fmt.Sprintf("/api/v1/experiments/%d", list.Items[0].ID)
	_, before := c.do("GET", "/api/v1/experiments", "", nil)
	engage := `{"engaged": true, "reason": "pwned"}`

	const evil = "http://evil.example"
	for _, tc := range []struct {
		name, method, path string
		h                  header
		body               string
		status             int
		field              string
	}{
		{"a form posting YAML as text/plain, as any page may without asking",
			"POST", "/api/v1/experiments", header{"Origin": evil, "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}, abortExperiment, 403, "Sec-Fetch-Site"},
		{"fetch in no-cors mode starting a run",
			"POST", victim + "/runs", header{"Origin": evil, "Sec-Fetch-Site": "cross-site"}, "", 403, "Sec-Fetch-Site"},
		{"an older browser with Origin but no Sec-Fetch-Site engaging the lever",
			"POST", "/api/v1/safety/lever", header{"Origin": evil, "Content-Type": "application/json"}, engage, 403, "Origin"},
		{"a page on another port of localhost is same-site, not same-origin",
			"DELETE", victim, header{"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"}, "", 403, "Sec-Fetch-Site"},
		{"a sandboxed frame or file:// page sends Origin null",
			"POST", "/api/v1/safety/lever", header{"Origin": "null", "Content-Type": "application/json"}, engage, 403, "Origin"},
		{"the same host at another port is another origin",
			"PUT", victim, header{"Origin": "http://127.0.0.1:1", "Content-Type": "application/yaml"}, abortExperiment, 403, "Origin"},
		{"https is another origin than http",
			"POST", "/api/v1/safety/lever", header{"Origin": "https://" + host, "Content-Type": "application/json"}, engage, 403, "Origin"},
		{"text/plain is not read as YAML, even from a client without Origin",
			"POST", "/api/v1/experiments", header{"Content-Type": "text/plain"}, abortExperiment, 415, "Content-Type"},
		{"a form encoding",
			"POST", "/api/v1/safety/lever", header{"Content-Type": "application/x-www-form-urlencoded"}, "engaged=true&reason=x", 415, "Content-Type"},
		{"multipart",
			"POST", "/api/v1/experiments", header{"Content-Type": "multipart/form-data; boundary=x"}, "--x\r\n\r\n" + abortExperiment + "\r\n--x--\r\n", 415, "Content-Type"},
		{"a body without a Content-Type",
			"POST", "/api/v1/experiments", header{}, abortExperiment, 415, "Content-Type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, e := send(t, c.base, tc.method, tc.path, tc.h, tc.body)
			if status != tc.status || e.Error.Field != tc.field || e.Error.Message == "" {
				t.Errorf("got %d %+v, want %d naming %s", status, e.Error, tc.status, tc.field)
			}
		})
	}
	if _, after := c.do("GET", "/api/v1/experiments", "", nil); string(after) != string(before) {
		t.Error("the experiments changed")
	}
	var lever leverJSON
	c.json("GET", "/api/v1/safety/lever", "", nil, 200, &lever)
	var runs struct{ Total int }
	c.json("GET", "/api/v1/runs", "", nil, 200, &runs)
	if lever.Engaged || runs.Total != 0 {
		t.Errorf("lever %+v, %d runs: want released, none", lever, runs.Total)
	}

	// The dashboard's own writes (same origin, JSON or YAML), and clients
	// outside a browser, still write; the audit log names them anonymous.
	dashboard := header{"Origin": c.base, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}
	if status, e := send(t, c.base, "POST", "/api/v1/safety/lever", dashboard, `{"engaged": true, "reason": "drill"}`); status != 200 {
		t.Errorf("the dashboard engaging the lever: %d %+v", status, e.Error)
	}
	dashboard["Content-Type"], dashboard["Origin"] = "application/yaml", "http://localhost:"+strings.Split(host, ":")[1]
	if status, e := send(t, c.base, "POST", "/api/v1/experiments", dashboard, abortExperiment); status != 403 {
		t.Errorf("a page at localhost writing to the server at 127.0.0.1: %d %+v, want 403", status, e.Error)
	}
	dashboard["Host"] = "localhost:" + strings.Split(host, ":")[1]
	if status, e := send(t, c.base, "POST", "/api/v1/experiments", dashboard, abortExperiment); status != 201 {
		t.Errorf("the dashboard at localhost saving an experiment: %d %+v", status, e.Error)
	}
	if status, e := send(t, c.base, "POST", "/api/v1/safety/lever", header{"Content-Type": "application/json; charset=utf-8"}, `{"engaged": false}`); status != 200 {
		t.Errorf("curl releasing the lever: %d %+v", status, e.Error)
	}
	// The log has the writes that got through and the refused ones from
	// clients outside a browser (415), but nothing from the other site's
	// page: it cannot even fill the log.
	var through int
	for _, e := range auditLog(t, c) {
		if e.Actor != "anonymous" || !strings.HasPrefix(e.Remote, "127.0.0.1:") {
			t.Errorf("audit entry %+v, want anonymous from 127.0.0.1", e)
		}
		switch e.Status {
		case 200, 201:
			through++
		case 415:
		default:
			t.Errorf("audit entry %+v: a cross-site refusal is logged", e)
		}
	}
	if through != 3 {
		t.Errorf("audit log has %d writes that got through, want 3", through)
	}
}

// A page under a host name that DNS rebinding pointed at 127.0.0.1 reads
// nothing: only loopback names, and those given to --allow-host, are
// answered.
func TestHostsOtherThanLoopbackAreRefused(t *testing.T) {
	c := serve(t, server.Config{})
	port := strings.Split(strings.TrimPrefix(c.base, "http://"), ":")[1]
	for _, path := range []string{"/api/v1/experiments", "/ui/", "/ui/js/api.js", "/metrics", "/openapi.json", "/", "/api/v1/nothing-here"} {
		status, e := send(t, c.base, "GET", path, header{"Host": "rebound.evil.example:" + port}, "")
		if status != 403 || e.Error.Field != "Host" || !strings.Contains(e.Error.Message, "--allow-host rebound.evil.example") {
			t.Errorf("GET %s as rebound.evil.example: %d %+v, want 403 naming --allow-host", path, status, e.Error)
		}
	}
	if status, _ := send(t, c.base, "GET", "/healthz", header{"Host": "faultline:8080"}, ""); status != 200 {
		t.Errorf("/healthz by a container's name: %d, want 200", status)
	}
	for _, host := range []string{"localhost:" + port, "LOCALHOST", "127.0.0.1:" + port, "127.1.2.3:" + port, "[::1]:" + port, "[::1]"} {
		if status, e := send(t, c.base, "GET", "/api/v1/experiments", header{"Host": host}, ""); status != 200 {
			t.Errorf("Host %s: %d %+v, want 200", host, status, e.Error)
		}
	}
	for _, host := range []string{"localhost.evil.example", "127.0.0.1.nip.io:" + port, "0.0.0.0:" + port, "10.0.0.1"} {
		if status, _ := send(t, c.base, "GET", "/api/v1/experiments", header{"Host": host}, ""); status != 403 {
			t.Errorf("Host %s: %d, want 403", host, status)
		}
	}

	// --allow-host admits the name, for reads and for its pages' writes.
	c = serve(t, server.Config{AllowHosts: []string{"faultline.internal"}})
	if status, e := send(t, c.base, "GET", "/ui/", header{"Host": "faultline.internal:8080"}, ""); status != 200 {
		t.Errorf("an allowed host: %d %+v", status, e.Error)
	}
	page := header{"Host": "faultline.internal", "Origin": "https://faultline.internal", "Sec-Fetch-Site": "same-origin", "Content-Type": "application/yaml"}
	if status, e := send(t, c.base, "POST", "/api/v1/experiments", page, abortExperiment); status != 201 {
		t.Errorf("a page at an allowed host behind a TLS proxy saving an experiment: %d %+v", status, e.Error)
	}
	if status, _ := send(t, c.base, "GET", "/ui/", header{"Host": "other.internal"}, ""); status != 403 {
		t.Errorf("a host not allowed: %d, want 403", status)
	}
	c = serve(t, server.Config{AllowHosts: []string{"*"}})
	if status, _ := send(t, c.base, "GET", "/api/v1/experiments", header{"Host": "anything.example"}, ""); status != 200 {
		t.Errorf("--allow-host '*': %d, want 200", status)
	}
	// "*" admits Host headers, not other sites' pages.
	if status, _ := send(t, c.base, "POST", "/api/v1/safety/lever", header{"Host": "anything.example", "Origin": "http://evil.example", "Content-Type": "application/json"}, `{"engaged": true, "reason": "x"}`); status != 403 {
		t.Errorf("--allow-host '*' and a write from another origin: %d, want 403", status)
	}
}

func TestDashboardAndAPIForbidFramingAndSniffing(t *testing.T) {
	c := serve(t, server.Config{})
	for _, path := range []string{"/ui/", "/ui/js/main.js", "/api/v1/experiments", "/api/v1/runs/999"} {
		resp, _ := c.do("GET", path, "", nil)
		for k, want := range map[string]string{
			"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "script-src 'self'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "script-src 'self' 'unsafe") {
			t.Errorf("%s: Content-Security-Policy %q allows inline script", path, csp)
		}
	}
}

// rawRequest writes head (a request line and headers, without the blank
// line) and body on a new connection to the server, then reads the
// status line of the answer, waiting at most within.
func rawRequest(t *testing.T, base, head, body string, within time.Duration) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(within))
	if _, err := io.WriteString(conn, strings.ReplaceAll(head, "\n", "\r\n")+"\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer within %v: %v", within, err)
	}
	return strings.TrimSpace(status)
}

// A client that sends a body slowly is cut off; an event stream on the
// same server outlives that bound.
func TestSlowBodiesAreCutOffButEventStreamsAreNot(t *testing.T) {
	c := serve(t, server.Config{ReadTimeout: 300 * time.Millisecond})
	host := strings.TrimPrefix(c.base, "http://")
	head := "POST /api/v1/experiments HTTP/1.1\nHost: " + host + "\nContent-Type: application/yaml\nContent-Length: 100000"
	// The test's own deadline is far beyond the server's 300 ms.
	if status := rawRequest(t, c.base, head, "apiVersion: faultline.dev/v1alpha1\n", 20*time.Second); !strings.Contains(status, " 408 ") {
		t.Errorf("a body that stops arriving: %q, want 408", status)
	}
	var list struct{ Total int }
	c.json("GET", "/api/v1/experiments", "", nil, 200, &list)
	if list.Total != 0 {
		t.Errorf("%d experiments stored from a body that never arrived", list.Total)
	}

	// A run of about a second, followed to its end over one stream.
	long := strings.NewReplacer("requests: 60", "duration: 1500ms\n    qps: 40", "e2e-abort", "slow-stream").Replace(abortExperiment)
	var e experimentJSON
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(long), 201, &e)
	var run runJSON
	c.json("POST", fmt.Sprintf("/api/v1/experiments/%d/runs", e.ID), "application/json", []byte(`{}`), 202, &run)
	start := time.Now()
	events := followEvents(t, c, fmt.Sprintf("/api/v1/runs/%d/events", run.ID), 30*time.Second)
	if last := events[len(events)-1]; last.name != "end" || time.Since(start) < time.Second {
		t.Errorf("the stream ended after %v with %q, want it to follow the run to its end", time.Since(start), last.name)
	}
}

// A client without the token is answered before it sends its body: a
// server reads no body for someone it does not know, nor for a role that
// may not write there.
func TestBodiesAreReadOnlyAfterAuthentication(t *testing.T) {
	const admin, viewer = "admin-0123456789abcdef", "viewer-0123456789abcdef"
	c := serve(t, server.Config{Token: admin, Tokens: "watcher viewer " + viewer})
	host := strings.TrimPrefix(c.base, "http://")
	head := "POST /api/v1/experiments HTTP/1.1\nHost: " + host + "\nContent-Type: application/yaml\nContent-Length: 50000000"
	// The default read bound is 30 s: an answer within 10 s was not
	// waiting for the body.
	if status := rawRequest(t, c.base, head, "", 10*time.Second); !strings.Contains(status, " 401 ") {
		t.Errorf("a stranger's 50 MB upload: %q, want 401 before the body", status)
	}
	if status := rawRequest(t, c.base, head+"\nAuthorization: Bearer "+viewer, "", 10*time.Second); !strings.Contains(status, " 403 ") {
		t.Errorf("a viewer's 50 MB upload: %q, want 403 before the body", status)
	}
}

func TestUnknownRunStatusFilterIsABadRequest(t *testing.T) {
	c := serve(t, server.Config{})
	var e errorJSON
	c.json("GET", "/api/v1/runs?status=bogus", "", nil, 400, &e)
	if e.Error.Field != "status" || !strings.Contains(e.Error.Message, "succeeded") {
		t.Errorf("error = %+v, want it to name the field and the statuses", e.Error)
	}
	c.json("GET", "/api/v1/runs?status=succeeded", "", nil, 200, nil)
}

// Tokens with roles from a file and the environment: each role does what
// it may and is told which role it lacks; every write, refused or not, is
// in the audit log with the token's name.
func TestRolesLimitTokensAndTheAuditLogSaysWhoDidWhat(t *testing.T) {
	const (
		adminTok    = "adm-0123456789abcdef"
		operatorTok = "ops-0123456789abcdef"
		viewerTok   = "view-0123456789abcdef"
		ciTok       = "ci-0123456789abcdef"
	)
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("# name role token\nalice admin "+adminTok+"\noncall operator "+operatorTok+"\n\nbob viewer "+viewerTok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _ := testserver.Start(t, server.Config{TokensFile: file, Tokens: "ci operator " + ciTok})
	alice, oncall := client{t: t, base: base, token: adminTok}, client{t: t, base: base, token: operatorTok}
	bob, ci := client{t: t, base: base, token: viewerTok}, client{t: t, base: base, token: ciTok}

	var e experimentJSON
	alice.json("POST", "/api/v1/experiments", "application/yaml", []byte(abortExperiment), 201, &e)
	exp := fmt.Sprintf("/api/v1/experiments/%d", e.ID)
	bob.json("GET", exp, "", nil, 200, nil)
	bob.json("GET", "/metrics", "", nil, 200, nil)

	refusals := []struct {
		c                  client
		method, path, body string
		need               string
	}{
		{bob, "POST", exp + "/runs", "", "operator"},
		{bob, "POST", "/api/v1/safety/lever", `{"engaged": true, "reason": "x"}`, "operator"},
		{bob, "GET", "/api/v1/audit", "", "operator"},
		{oncall, "PUT", exp, abortExperiment, "admin"},
		{oncall, "DELETE", exp, "", "admin"},
		{ci, "POST", "/api/v1/environments", "kind: Environment", "admin"},
	}
	for _, r := range refusals {
		ct := "application/json"
		if strings.Contains(r.body, "kind") || strings.Contains(r.body, "apiVersion") {
			ct = "application/yaml"
		}
		var refused errorJSON
		r.c.json(r.method, r.path, ct, []byte(r.body), 403, &refused)
		if !strings.Contains(refused.Error.Message, "needs the "+r.need+" role") || refused.Error.Code != "role" {
			t.Errorf("%s %s with %s's token: %+v, want it to name the %s role", r.method, r.path, r.c.token[:3], refused.Error, r.need)
		}
	}
	bob.json("GET", exp, "", nil, 200, nil) // still there

	var run runJSON
	oncall.json("POST", exp+"/runs", "application/json", []byte(`{}`), 202, &run)
	waitRun(t, oncall, run.ID)
	var lever leverJSON
	ci.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": true, "reason": "drill", "by": "someone-else"}`), 200, &lever)
	if lever.By != "ci" {
		t.Errorf("lever moved by %q, want the token's name ci, not the body's", lever.By)
	}
	oncall.json("POST", "/api/v1/safety/lever", "application/json", []byte(`{"engaged": false, "reason": "done"}`), 200, nil)
	alice.json("DELETE", exp, "", nil, 204, nil)

	entries := auditLog(t, oncall)
	type row struct {
		actor, role, method, route, object string
		status                             int
	}
	want := []row{ // newest first
		{"alice", "admin", "DELETE", "/api/v1/experiments/{id}", fmt.Sprintf("experiments/%d", e.ID), 204},
		{"oncall", "operator", "POST", "/api/v1/safety/lever", "safety/lever", 200},
		{"ci", "operator", "POST", "/api/v1/safety/lever", "safety/lever", 200},
		{"oncall", "operator", "POST", "/api/v1/experiments/{id}/runs", fmt.Sprintf("runs/%d", run.ID), 202},
		{"ci", "operator", "POST", "/api/v1/environments", "environments", 403},
		{"oncall", "operator", "DELETE", "/api/v1/experiments/{id}", fmt.Sprintf("experiments/%d", e.ID), 403},
		{"oncall", "operator", "PUT", "/api/v1/experiments/{id}", fmt.Sprintf("experiments/%d", e.ID), 403},
		{"bob", "viewer", "POST", "/api/v1/safety/lever", "safety/lever", 403},
		{"bob", "viewer", "POST", "/api/v1/experiments/{id}/runs", fmt.Sprintf("experiments/%d", e.ID), 403},
		{"alice", "admin", "POST", "/api/v1/experiments", fmt.Sprintf("experiments/%d", e.ID), 201},
	}
	if len(entries) != len(want) {
		t.Fatalf("audit log has %d entries, want %d (writes only):\n%+v", len(entries), len(want), entries)
	}
	for i, w := range want {
		g := entries[i]
		if got := (row{g.Actor, g.Role, g.Method, g.Route, g.Object, g.Status}); got != w {
			t.Errorf("entry %d = %+v, want %+v", i, got, w)
		}
		if !strings.HasPrefix(g.Remote, "127.0.0.1:") {
			t.Errorf("entry %d from %q, want the client's address", i, g.Remote)
		}
	}
	if d := entries[2].Detail; d != "engage: drill" {
		t.Errorf("the lever's entry says %q, want what was done and why", d)
	}
}
