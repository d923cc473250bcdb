package containers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/containers"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/runstatus"
)

func TestMain(m *testing.M) {
	testserver.DisableRyuk() // before the first testcontainers call
	code := m.Run()
	if err := cleanupAndCheck(); err != nil {
		fmt.Fprintln(os.Stderr, "containers: leak check:", err)
		code = 1
	}
	os.Exit(code)
}

var (
	imageOnce sync.Once
	imageTag  string
	imageDir  string // build context: the static binary and its Dockerfile
	imageErr  error
)

// demoImage builds Faultline's static binary and the FROM-scratch demo
// httpbin image once per test binary.
func demoImage(t *testing.T) (tag, dir string) {
	t.Helper()
	testserver.NeedDocker(t)
	imageOnce.Do(func() {
		start := time.Now()
		imageDir, imageErr = os.MkdirTemp("", "faultline-demo-image-")
		if imageErr != nil {
			return
		}
		bin, err := buildBinary()
		if err != nil {
			imageErr = err
			return
		}
		if imageErr = copyFile(bin, filepath.Join(imageDir, "faultline")); imageErr != nil {
			return
		}
		if imageErr = testserver.WriteDemoDockerfile(imageDir); imageErr != nil {
			return
		}
		p, err := testcontainers.NewDockerProvider()
		if err != nil {
			imageErr = err
			return
		}
		defer p.Close()
		imageTag, imageErr = p.BuildImage(context.Background(), &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
			Context: imageDir, Dockerfile: "Dockerfile", Repo: "faultline-demo-test", Tag: strconv.Itoa(os.Getpid())}})
		fmt.Fprintf(os.Stderr, "built %s in %s\n", imageTag, time.Since(start).Round(time.Millisecond))
	})
	if imageErr != nil {
		t.Fatalf("demo image: %v", imageErr)
	}
	return imageTag, imageDir
}

var (
	binaryOnce sync.Once
	binaryDir  string
	binaryErr  error
)

// buildBinary builds Faultline's static binary once per test binary and
// returns its path.
func buildBinary() (string, error) {
	binaryOnce.Do(func() {
		start := time.Now()
		if binaryDir, binaryErr = os.MkdirTemp("", "faultline-bin-"); binaryErr != nil {
			return
		}
		if _, binaryErr = testserver.BuildBinary(binaryDir); binaryErr != nil {
			return
		}
		fmt.Fprintf(os.Stderr, "built faultline in %s\n", time.Since(start).Round(time.Millisecond))
	})
	return filepath.Join(binaryDir, "faultline"), binaryErr
}

// faultlineBinary is buildBinary for a test.
func faultlineBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatalf("faultline binary: %v", err)
	}
	return bin
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// cleanupAndCheck removes the demo image and fails when a container of
// this test binary or a built image is left behind.
func cleanupAndCheck() error {
	if binaryDir != "" {
		defer os.RemoveAll(binaryDir)
	}
	if imageDir != "" {
		defer os.RemoveAll(imageDir)
	}
	if imageTag == "" {
		return nil
	}
	ctx := context.Background()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := cli.ImageRemove(ctx, imageTag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
		return fmt.Errorf("remove %s: %w", imageTag, err)
	}
	// Other test packages run beside this one and start containers and
	// build images of their own under the same labels and session: what
	// is left is a leak only if it is still there a while later.
	var problems []string
	if wait.Until(time.Minute, func() bool {
		problems, err = leftBehind(ctx, cli)
		return err != nil || len(problems) == 0
	}) {
		return err
	}
	return fmt.Errorf("%s", strings.Join(problems, "; "))
}

// leftBehind lists the containers and images of these tests still present.
func leftBehind(ctx context.Context, cli *testcontainers.DockerClient) ([]string, error) {
	var problems []string
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", "org.testcontainers=true")})
	if err != nil {
		return nil, err
	}
	for _, c := range list.Items {
		if c.Labels[containers.Label] == "true" || c.Labels["org.testcontainers.sessionId"] == testcontainers.SessionID() {
			problems = append(problems, "container "+c.ID+" left behind")
		}
	}
	if ok, err := containers.ImageExists(ctx, imageTag); err != nil || ok {
		problems = append(problems, fmt.Sprintf("image %s still exists (%v)", imageTag, err))
	}
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: client.Filters{}.Add("reference", "faultline-target")})
	if err != nil {
		return nil, err
	}
	for _, im := range imgs.Items {
		problems = append(problems, fmt.Sprintf("built image %v left behind", im.RepoTags))
	}
	return problems, nil
}

func parse(t *testing.T, src string) *scenarios.Document {
	t.Helper()
	d, err := scenarios.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func experimentYAML(endpoint, load, actions string) string {
	return `apiVersion: faultline.dev/v1alpha1
kind: Experiment
metadata: {name: containers}
spec:
  services:
  - host: httpbin
    port: 8000
    endpoints:
    - container: ` + endpoint + `
  load: ` + load + `
` + actions
}

func TestContainerTargetServesThroughTheProxy(t *testing.T) {
	tag, _ := demoImage(t)
	start := time.Now()
	r, err := experiment.Execute(context.Background(), parse(t, experimentYAML(`{image: "`+tag+`", port: 8080, wait: {path: /get}}`,
		`{url: "http://httpbin:8000/get", connections: 2, requests: 40}`, "")), experiment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run with container start and removal: %s", time.Since(start).Round(time.Millisecond))
	if r.Status != runstatus.Succeeded || r.Codes["200"] != 40 {
		t.Errorf("status %s codes %v, want 40 × 200", r.Status, r.Codes)
	}
	if len(r.Containers) != 1 {
		t.Fatalf("containers = %+v", r.Containers)
	}
	c := r.Containers[0]
	if c.Service != "httpbin" || c.Endpoint != 0 || c.Image != tag || c.ID == "" || !strings.HasPrefix(c.Address, "127.0.0.1:") {
		t.Errorf("container = %+v", c)
	}
	if !strings.Contains(c.LogTail, "GET /get 200") {
		t.Errorf("log tail has no access log line:\n%s", c.LogTail)
	}
	if n := strings.Count(c.LogTail, "\n") + 1; n > containers.LogTailLines {
		t.Errorf("log tail has %d lines, want at most %d", n, containers.LogTailLines)
	}
}

func TestPauseMidLoadTimesOutThenRecovers(t *testing.T) {
	tag, _ := demoImage(t)
	r, err := experiment.Execute(context.Background(), parse(t, experimentYAML(`{image: "`+tag+`", port: 8080}`,
		`{url: "http://httpbin:8000/get", connections: 4, qps: 50, duration: 4s, timeout: 300ms}`,
		"  actions:\n  - {at: 1s, container: httpbin, action: pause}\n  - {at: 2s, container: httpbin/0, action: unpause}\n")), experiment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Actions) != 2 || !r.Actions[0].OK || !r.Actions[1].OK || r.Actions[0].Action != "pause" || r.Actions[1].Action != "unpause" {
		t.Fatalf("actions = %+v", r.Actions)
	}
	if at := r.Actions[0].AtMs; at < 1000 || at > 1300 {
		t.Errorf("pause at %.0f ms, want about 1000", at)
	}
	if r.Errors == 0 || r.Codes["200"] == 0 {
		t.Fatalf("errors %d, codes %v: want timeouts during the pause and 200s around it", r.Errors, r.Codes)
	}
	var before, after, final int64 = -1, -1, r.Errors
	for _, p := range r.Timeline {
		if p.ElapsedMs <= 1000 {
			before = p.Errors
		}
		if after < 0 && p.ElapsedMs >= 2600 {
			after = p.Errors
		}
	}
	if n := len(r.Timeline); n > 0 {
		final = r.Timeline[n-1].Errors
	}
	t.Logf("timeline %+v", r.Timeline)
	if before != 0 && before != -1 {
		t.Errorf("errors before the pause = %d, want 0", before)
	}
	if after <= 0 || final != after {
		t.Errorf("errors after the unpause: %d at ≥2.6s, %d at the end; want them to rise during the pause, then flatten", after, final)
	}
}

func TestKillGivesConnectionFailuresAndStartRecovers(t *testing.T) {
	tag, _ := demoImage(t)
	r, err := experiment.Execute(context.Background(), parse(t, experimentYAML(`{image: "`+tag+`", port: 8080}`,
		`{url: "http://httpbin:8000/get", connections: 2, qps: 50, duration: 3s, timeout: 300ms}`,
		"  actions:\n  - {at: 1s, container: httpbin, action: kill}\n  - {at: 1200ms, container: httpbin, action: start}\n")), experiment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Actions) != 2 || !r.Actions[0].OK || !r.Actions[1].OK {
		t.Fatalf("actions = %+v", r.Actions)
	}
	if r.Proxy.ByFlag["UF"] == 0 || r.Codes["503"] == 0 {
		t.Errorf("flags %v codes %v: want 503 UF connection failures after the kill", r.Proxy.ByFlag, r.Codes)
	}
	// The host port is pinned, so the proxy reaches the started container
	// again: the last second is (almost) all successes.
	n := len(r.Timeline)
	if n < 2 {
		t.Fatalf("timeline %+v", r.Timeline)
	}
	last, prev := r.Timeline[n-1], r.Timeline[n-2]
	if dr, de := last.Requests-prev.Requests, last.Errors-prev.Errors; dr < 10 || de*10 > dr {
		t.Errorf("no recovery after start: %d requests, %d errors in the last interval; timeline %+v", dr, de, r.Timeline)
	}
	t.Logf("codes %v flags %v timeline %+v", r.Codes, r.Proxy.ByFlag, r.Timeline)
}

func TestBuildFromTheExperimentsDirectory(t *testing.T) {
	_, dir := demoImage(t)
	src := experimentYAML(`{build: {context: `+filepath.Base(dir)+`}, port: 8080}`, `{url: "http://httpbin:8000/get", requests: 10}`, "")
	r, err := experiment.Execute(context.Background(), parse(t, src), experiment.Options{BaseDir: filepath.Dir(dir)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Codes["200"] != 10 || len(r.Containers) != 1 || !strings.HasPrefix(r.Containers[0].Image, "faultline-target:") {
		t.Fatalf("codes %v containers %+v", r.Codes, r.Containers)
	}
	if ok, err := containers.ImageExists(context.Background(), r.Containers[0].Image); err != nil || ok {
		t.Errorf("built image %s still exists after the run (%v)", r.Containers[0].Image, err)
	}

	// The API has no experiment file: a relative context is refused.
	_, err = experiment.Execute(context.Background(), parse(t, src), experiment.Options{})
	if err == nil || !strings.Contains(err.Error(), "spec.services[0].endpoints[0].container.build.context") || !strings.Contains(err.Error(), "relative") {
		t.Errorf("relative context without BaseDir: err = %v", err)
	}
}

func TestFailuresAreEngineErrorsWithTheReason(t *testing.T) {
	tag, _ := demoImage(t)
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "Dockerfile"), []byte("FROM scratch\nCOPY missing-binary /app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, endpoint string
		want           []string
	}{
		{"build", `{build: {context: ` + bad + `}, port: 8080}`, []string{"container.build", "build image", "missing-binary"}},
		{"no image", `{image: "faultline-no-such-image:never", port: 8080}`, []string{"container.image", "does not exist locally", "never pulls"}},
		{"start", `{image: "` + tag + `", port: 8080, cmd: [demo, no-such-target], wait: {timeout: 3s}}`, []string{"start container", "last log lines", "no-such-target"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := experiment.Execute(context.Background(), parse(t, experimentYAML(c.endpoint, `{url: "http://httpbin:8000/get", requests: 5}`, "")), experiment.Options{})
			if err == nil {
				t.Fatal("want an engine error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
