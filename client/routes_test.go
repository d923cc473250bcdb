package client_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/client"
)

// call invokes one client method against the recording server; ids are
// 1 ({id}), 2 ({other}), 3 ({rid}) and 4 ({oid}).
type call func(ctx context.Context, c *client.Client) error

// routeMethods maps every route of server/api/openapi.json to the client
// method that calls it.
var routeMethods = map[string]struct {
	method string
	call   call
}{
	"GET /healthz":      {"Client.Healthz", func(ctx context.Context, c *client.Client) error { return c.Healthz(ctx) }},
	"GET /openapi.json": {"Client.OpenAPI", func(ctx context.Context, c *client.Client) error { _, err := c.OpenAPI(ctx); return err }},
	"GET /metrics":      {"Client.Metrics", func(ctx context.Context, c *client.Client) error { _, err := c.Metrics(ctx); return err }},
	"POST /api/v1/validate": {"Client.Validate", func(ctx context.Context, c *client.Client) error {
		_, err := c.Validate(ctx, []byte("kind: Experiment\n"))
		return err
	}},

	"GET /api/v1/experiments": {"Experiments.List", func(ctx context.Context, c *client.Client) error {
		_, err := c.Experiments.List(ctx, client.ListOptions{Limit: 5})
		return err
	}},
	"POST /api/v1/experiments": {"Experiments.Create", func(ctx context.Context, c *client.Client) error {
		_, err := c.Experiments.Create(ctx, []byte("kind: Experiment\n"))
		return err
	}},
	"GET /api/v1/experiments/{id}": {"Experiments.Get", func(ctx context.Context, c *client.Client) error { _, err := c.Experiments.Get(ctx, 1); return err }},
	"PUT /api/v1/experiments/{id}": {"Experiments.Update", func(ctx context.Context, c *client.Client) error {
		_, err := c.Experiments.Update(ctx, 1, []byte("kind: Experiment\n"))
		return err
	}},
	"DELETE /api/v1/experiments/{id}": {"Experiments.Delete", func(ctx context.Context, c *client.Client) error { return c.Experiments.Delete(ctx, 1) }},
	"GET /api/v1/experiments/{id}/export": {"Experiments.Export", func(ctx context.Context, c *client.Client) error {
		_, err := c.Experiments.Export(ctx, 1, client.ExportOptions{Namespace: "bookinfo"})
		return err
	}},
	"GET /api/v1/experiments/{id}/fires": {"Experiments.Fires", func(ctx context.Context, c *client.Client) error {
		_, err := c.Experiments.Fires(ctx, 1, client.ListOptions{})
		return err
	}},
	"GET /api/v1/experiments/{id}/calendar": {"Experiments.Calendar", func(ctx context.Context, c *client.Client) error {
		_, err := c.Experiments.Calendar(ctx, 1, time.Time{}, time.Time{})
		return err
	}},

	"POST /api/v1/experiments/{id}/runs": {"Runs.Start", func(ctx context.Context, c *client.Client) error {
		_, err := c.Runs.Start(ctx, 1, client.StartOptions{Seed: 9, NoQueue: true})
		return err
	}},
	"GET /api/v1/runs": {"Runs.List", func(ctx context.Context, c *client.Client) error {
		_, err := c.Runs.List(ctx, client.RunListOptions{Experiment: 1, Status: client.StatusFailed})
		return err
	}},
	"GET /api/v1/runs/{id}":           {"Runs.Get", func(ctx context.Context, c *client.Client) error { _, err := c.Runs.Get(ctx, 1); return err }},
	"GET /api/v1/runs/{id}/events":    {"Runs.Events", func(ctx context.Context, c *client.Client) error { return drain(c.Runs.Events(ctx, 1)) }},
	"POST /api/v1/runs/{id}/stop":     {"Runs.Stop", func(ctx context.Context, c *client.Client) error { return c.Runs.Stop(ctx, 1) }},
	"POST /api/v1/runs/{id}/rerun":    {"Runs.Rerun", func(ctx context.Context, c *client.Client) error { _, err := c.Runs.Rerun(ctx, 1); return err }},
	"GET /api/v1/runs/{id}/proxy":     {"Runs.LiveProxy", func(ctx context.Context, c *client.Client) error { _, err := c.Runs.LiveProxy(ctx, 1); return err }},
	"GET /api/v1/runs/{id}/junit.xml": {"Runs.JUnit", func(ctx context.Context, c *client.Client) error { _, err := c.Runs.JUnit(ctx, 1); return err }},
	"GET /api/v1/runs/{id}/compare/{other}": {"Runs.Compare", func(ctx context.Context, c *client.Client) error {
		_, err := c.Runs.Compare(ctx, 1, 2)
		return err
	}},
	"GET /api/v1/runs/{id}/fortio.json": {"Runs.FortioJSON", func(ctx context.Context, c *client.Client) error {
		_, err := c.Runs.FortioJSON(ctx, 1)
		return err
	}},
	"GET /api/v1/runs/{id}/histogram.csv": {"Runs.HistogramCSV", func(ctx context.Context, c *client.Client) error {
		_, err := c.Runs.HistogramCSV(ctx, 1)
		return err
	}},

	"GET /api/v1/safety/lever": {"Lever.Get", func(ctx context.Context, c *client.Client) error { _, err := c.Lever.Get(ctx); return err }},
	"POST /api/v1/safety/lever": {"Lever.Move (Engage, Release)", func(ctx context.Context, c *client.Client) error {
		_, err := c.Lever.Engage(ctx, "test")
		return err
	}},

	"GET /api/v1/gamedays": {"GameDays.List", func(ctx context.Context, c *client.Client) error {
		_, err := c.GameDays.List(ctx, client.ListOptions{})
		return err
	}},
	"POST /api/v1/gamedays": {"GameDays.Create", func(ctx context.Context, c *client.Client) error {
		_, err := c.GameDays.Create(ctx, []byte("kind: GameDay\n"))
		return err
	}},
	"GET /api/v1/gamedays/{id}": {"GameDays.Get", func(ctx context.Context, c *client.Client) error { _, err := c.GameDays.Get(ctx, 1); return err }},
	"PUT /api/v1/gamedays/{id}": {"GameDays.Update", func(ctx context.Context, c *client.Client) error {
		_, err := c.GameDays.Update(ctx, 1, []byte("kind: GameDay\n"))
		return err
	}},
	"DELETE /api/v1/gamedays/{id}":    {"GameDays.Delete", func(ctx context.Context, c *client.Client) error { return c.GameDays.Delete(ctx, 1) }},
	"POST /api/v1/gamedays/{id}/runs": {"GameDays.Start", func(ctx context.Context, c *client.Client) error { _, err := c.GameDays.Start(ctx, 1); return err }},
	"GET /api/v1/gamedays/{id}/runs": {"GameDays.Runs", func(ctx context.Context, c *client.Client) error {
		_, err := c.GameDays.Runs(ctx, 1, client.ListOptions{})
		return err
	}},
	"GET /api/v1/gamedays/{id}/fires": {"GameDays.Fires", func(ctx context.Context, c *client.Client) error {
		_, err := c.GameDays.Fires(ctx, 1, client.ListOptions{})
		return err
	}},
	"GET /api/v1/gamedays/{id}/calendar": {"GameDays.Calendar", func(ctx context.Context, c *client.Client) error {
		_, err := c.GameDays.Calendar(ctx, 1, time.Now(), time.Now().Add(time.Hour))
		return err
	}},
	"GET /api/v1/gameday-runs/{rid}":        {"GameDayRuns.Get", func(ctx context.Context, c *client.Client) error { _, err := c.GameDayRuns.Get(ctx, 3); return err }},
	"POST /api/v1/gameday-runs/{rid}/stop":  {"GameDayRuns.Stop", func(ctx context.Context, c *client.Client) error { return c.GameDayRuns.Stop(ctx, 3) }},
	"GET /api/v1/gameday-runs/{rid}/events": {"GameDayRuns.Events", func(ctx context.Context, c *client.Client) error { return drain(c.GameDayRuns.Events(ctx, 3)) }},
	"GET /api/v1/gameday-runs/{rid}/junit.xml": {"GameDayRuns.JUnit", func(ctx context.Context, c *client.Client) error {
		_, err := c.GameDayRuns.JUnit(ctx, 3)
		return err
	}},

	"GET /api/v1/environments": {"Environments.List", func(ctx context.Context, c *client.Client) error {
		_, err := c.Environments.List(ctx, client.ListOptions{})
		return err
	}},
	"POST /api/v1/environments": {"Environments.Create", func(ctx context.Context, c *client.Client) error {
		_, err := c.Environments.Create(ctx, []byte("kind: Environment\n"))
		return err
	}},
	"GET /api/v1/environments/{id}": {"Environments.Get", func(ctx context.Context, c *client.Client) error { _, err := c.Environments.Get(ctx, 1); return err }},
	"PUT /api/v1/environments/{id}": {"Environments.Update", func(ctx context.Context, c *client.Client) error {
		_, err := c.Environments.Update(ctx, 1, []byte("kind: Environment\n"))
		return err
	}},
	"DELETE /api/v1/environments/{id}": {"Environments.Delete", func(ctx context.Context, c *client.Client) error { return c.Environments.Delete(ctx, 1) }},
	"GET /api/v1/environments/{id}/graph": {"Environments.Graph", func(ctx context.Context, c *client.Client) error {
		_, err := c.Environments.Graph(ctx, 1)
		return err
	}},
	"GET /api/v1/environments/{id}/access-log": {"Environments.AccessLog", func(ctx context.Context, c *client.Client) error {
		_, err := c.Environments.AccessLog(ctx, 1)
		return err
	}},
	"GET /api/v1/environments/{id}/runs": {"Environments.Runs", func(ctx context.Context, c *client.Client) error {
		_, err := c.Environments.Runs(ctx, 1, client.ListOptions{})
		return err
	}},
	"GET /api/v1/environments/{id}/overlays": {"Overlays.List", func(ctx context.Context, c *client.Client) error {
		_, err := c.Overlays.List(ctx, 1)
		return err
	}},
	"POST /api/v1/environments/{id}/overlays": {"Overlays.Add", func(ctx context.Context, c *client.Client) error {
		_, err := c.Overlays.Add(ctx, 1, time.Minute, []byte("kind: VirtualService\n"))
		return err
	}},
	"DELETE /api/v1/environments/{id}/overlays/{oid}": {"Overlays.Remove", func(ctx context.Context, c *client.Client) error {
		return c.Overlays.Remove(ctx, 1, 4)
	}},

	"GET /api/v1/audit": {"Audit.List", func(ctx context.Context, c *client.Client) error {
		_, err := c.Audit.List(ctx, client.ListOptions{Offset: 10})
		return err
	}},
}

func drain[E any](events <-chan E, err error) error {
	if err != nil {
		return err
	}
	for range events {
	}
	return nil
}

// openAPIRoutes reads every "METHOD path" of server/api/openapi.json.
func openAPIRoutes(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../server/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var routes []string
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				routes = append(routes, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(routes)
	return routes
}

// TestEveryRouteHasAMethod checks that every route of the OpenAPI
// document has a client method, that the table names no route the
// document lacks, and that each method calls its route: method and path,
// against a server that records them.
func TestEveryRouteHasAMethod(t *testing.T) {
	routes := openAPIRoutes(t)
	var missing []string
	for _, r := range routes {
		if _, ok := routeMethods[r]; !ok {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		t.Errorf("routes of openapi.json without a client method:\n  %s", strings.Join(missing, "\n  "))
	}
	for r := range routeMethods {
		if !slices.Contains(routes, r) {
			t.Errorf("the table maps %s, which openapi.json does not describe", r)
		}
	}

	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/events") {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "event: end\ndata: {}\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.NewReplacer("{id}", "1", "{other}", "2", "{rid}", "3", "{oid}", "4")
	for route, m := range routeMethods {
		mu.Lock()
		seen = nil
		mu.Unlock()
		if err := m.call(t.Context(), c); err != nil {
			t.Errorf("%s (%s): %v", m.method, route, err)
			continue
		}
		mu.Lock()
		got := seen
		mu.Unlock()
		if want := ids.Replace(route); len(got) != 1 || got[0] != want {
			t.Errorf("%s sent %v, want %s", m.method, got, want)
		}
	}
}

// TestClientUsesOnlyTheStandardLibrary keeps the package vendorable on its
// own: it imports nothing but the standard library.
func TestClientUsesOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/faultline/faultline/client" {
			t.Errorf("the client depends on %s; it must use the standard library only", dep)
		}
	}
}
