package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBookinfoComposeAbortForJason follows examples/bookinfo/README.md:
// the static binary, then Bookinfo in docker-compose, one container per
// service calling the others through the bookinfo environment's egress.
// Through the published egress port, as the README's curl -x does,
// jason's page shows the ratings error while the abort is laid over the
// baseline (an overlay of ratings-abort-jason.yaml's resources), then the
// example itself runs through the API; everyone else's page is untouched
// and jason's is whole again after each. down removes every container,
// network, volume and the image. The published ports and the image tag
// are the compose file's variables, set to free ports and a tag of this
// test, so a Bookinfo or a faultline:local image of the user is not
// touched.
func TestBookinfoComposeAbortForJason(t *testing.T) {
	needCompose(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "examples", "bookinfo", "docker-compose.yml")
	project := "faultlinebookinfo" + randomHex(t, 4)
	image := "faultline-bookinfo-test:" + project
	token := randomHex(t, 16)
	apiPort, egressPort, ingressPort := freePort(t), freePort(t), freePort(t)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "FAULTLINE_") || strings.HasPrefix(k, "COMPOSE_") || k == "EGRESS_PORT" || k == "INGRESS_PORT" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "FAULTLINE_PORT="+apiPort, "EGRESS_PORT="+egressPort, "INGRESS_PORT="+ingressPort,
		"FAULTLINE_IMAGE="+image, "FAULTLINE_TOKEN="+token)

	run := func(timeout time.Duration, name string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir, cmd.Env = root, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	compose := func(timeout time.Duration, args ...string) (string, error) {
		return run(timeout, "docker-compose", append([]string{"-p", project, "-f", file}, args...)...)
	}
	must := func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}

	start := time.Now()
	must(run(5*time.Minute, "scripts/build-image.sh", "binary"))
	t.Logf("static binary: %s", time.Since(start).Round(time.Millisecond))

	t.Cleanup(func() {
		if t.Failed() {
			out, _ := compose(time.Minute, "logs", "--no-color", "--tail", "40")
			t.Logf("docker-compose logs:\n%s", out)
		}
		// --rmi all: every service runs the one image of this test's tag.
		if out, err := compose(3*time.Minute, "down", "-v", "--rmi", "all", "--remove-orphans", "-t", "5"); err != nil {
			t.Errorf("docker-compose down: %v\n%s", err, out)
		}
		// Nothing of the project may be left: containers, network, volume, image.
		label := "label=com.docker.compose.project=" + project
		for _, ls := range [][]string{
			{"ps", "-aq", "--filter", label},
			{"network", "ls", "-q", "--filter", label},
			{"volume", "ls", "-q", "--filter", label},
			{"images", "-q", image},
		} {
			if out, err := run(time.Minute, "docker", ls...); err != nil || strings.TrimSpace(out) != "" {
				t.Errorf("docker %s after down: %q (%v)", strings.Join(ls, " "), out, err)
			}
		}
	})

	start = time.Now()
	must(compose(5*time.Minute, "build"))
	t.Logf("docker-compose build: %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	must(compose(3*time.Minute, "up", "-d"))
	c := apiClient{t: t, base: "http://127.0.0.1:" + apiPort, token: token}
	c.waitHealthy(60 * time.Second)

	// serve made the bookinfo environment from environment.yaml at
	// start-up; the containers come up on their own time: wait for the
	// whole chain to answer through the published egress.
	hc := viaEgress(t, "127.0.0.1:"+egressPort)
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, _, err := fetchPage(hc, "jason", 10*time.Second)
		if err == nil && pageProblem(p, "reviews-v2", "black") == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jason's page through the egress 60s after up: %+v, %v", p, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("up, every service answering through the egress: %s", time.Since(start).Round(time.Millisecond))
	// The label the cleanup checks finds what up made: seven containers.
	if out := must(run(time.Minute, "docker", "ps", "-q", "--filter", "label=com.docker.compose.project="+project)); len(strings.Fields(out)) != 7 {
		t.Errorf("containers of the project: %q, want faultline and 6 Bookinfo services", out)
	}
	const fast = 2 * time.Second // a page that waits for no fault
	wantPage(t, hc, "baseline", "", "reviews-v1", "", fast)
	// The ingress gateway serves the page to a browser on the host.
	if code, body := call(t, "GET", "http://127.0.0.1:"+ingressPort+"/productpage", "", "", nil); code != http.StatusOK || !strings.Contains(string(body), "The Comedy of Errors") {
		t.Errorf("the page through the ingress gateway: %d %.200s", code, body)
	}

	var list struct {
		Items []struct {
			ID   int64
			Name string
		}
	}
	c.json("GET", "/api/v1/environments", "", nil, http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "bookinfo" {
		t.Fatalf("environments: %+v, want bookinfo alone", list.Items)
	}
	envID := list.Items[0].ID
	src := bookinfoExample(t, "ratings-abort-jason.yaml")

	// The abort laid over the baseline for a while: jason's page at once,
	// the ratings error in place of the stars; everyone else's untouched.
	ov := c.addOverlay(envID, istioResources(t, src), time.Minute)
	p, took, err := fetchPage(hc, "jason", 10*time.Second)
	if err != nil {
		t.Errorf("jason's page under the abort: %v", err)
	} else {
		wantRatingsError(t, "under the abort overlay", p, took, fast)
	}
	wantPage(t, hc, "under jason's abort", "", "reviews-v1", "", fast)
	c.json("DELETE", fmt.Sprintf("/api/v1/environments/%d/overlays/%d", envID, ov), "", nil, http.StatusNoContent, nil)
	wantPage(t, hc, "right after the overlay", "jason", "reviews-v2", "black", fast)

	// The example as a run: its load through the egress inside the
	// faultline container, its report, the baseline back when it ends.
	r := c.waitRun(c.startRun(c.createExperiment(src)), 60*time.Second)
	wantPage(t, hc, "right after the run", "jason", "reviews-v2", "black", fast)
	wantPage(t, hc, "right after the run", "", "reviews-v1", "", fast)
	if r.Status != "succeeded" || r.Verdict != "pass" || r.Report == nil {
		t.Fatalf("run: %s %s (%s), report %+v", r.Status, r.Verdict, r.Reason, r.Report)
	}
	if rep := r.Report; rep.Environment != "bookinfo" || rep.Codes["200"] != 20 || len(rep.Codes) != 1 || rep.Proxy.FaultsAborted != 20 {
		t.Errorf("report: environment %q, codes %v, %d faults aborted; want 20 × 200, 20 aborted", rep.Environment, rep.Codes, rep.Proxy.FaultsAborted)
	}

	// The containers' calls are on the environment's graph.
	got := c.graphEdges(envID)
	for _, edge := range []string{"unknown→productpage", "productpage→details", "productpage→reviews", "reviews→ratings"} {
		if got[edge] == 0 {
			t.Errorf("graph: no requests on %s (edges %v)", edge, got)
		}
	}
	t.Logf("graph: %v", got)
}
