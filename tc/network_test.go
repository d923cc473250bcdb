package tc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	tcwait "github.com/testcontainers/testcontainers-go/wait"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/tc"
)

// bookinfoEnvironment binds ratings to the ratings container by its alias
// on the test's network; the egress listens on the container's interfaces.
const bookinfoEnvironment = `apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: bookinfo}
spec:
  egress: 0.0.0.0:15001
  services:
  - host: ratings
    port: 9080
    endpoints: [{address: "ratings-v1:9080", labels: {version: v1}}]
`

const ratingsDown = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: ratings}}]
`

// With the service under test in a container: Bookinfo's reviews v2 calls
// ratings by name through HTTP_PROXY=http://faultline:15001, all three on
// a network of the test's own. Reviews shows the ratings error while the
// overlay holds, and its stars again when the overlay's TTL has ended.
func TestRunOnADockerNetworkWithTheServiceInAContainer(t *testing.T) {
	ctx := t.Context()
	image := faultlineImage(t)
	nw, err := tcnetwork.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nw.Remove(context.Background()); err != nil {
			t.Errorf("remove network %s: %v", nw.Name, err)
		}
	})

	demoContainer(t, image, nw, "ratings-v1", "ratings", nil)
	fl, err := tc.Run(ctx, tc.WithImage(image), tc.WithNetwork(nw.Name), tc.WithAllow("ratings-v1"), tc.WithExposedPorts(15001))
	testcontainers.CleanupContainer(t, fl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fl.Environment(ctx, bookinfoEnvironment); err != nil {
		t.Fatal(err)
	}
	// The egress is published on the host's loopback too.
	egress, err := fl.Addr(ctx, 15001)
	if err != nil {
		t.Fatal(err)
	}
	if got := status(t, "GET", "http://"+egress, "http://ratings:9080/ratings/0", "", ""); got != http.StatusOK {
		t.Errorf("ratings through the published egress %s: %d, want 200", egress, got)
	}

	reviews := demoContainer(t, image, nw, "reviews-v2", "reviews", map[string]string{"HTTP_PROXY": "http://" + tc.DefaultAlias + ":15001"}, "--version", "v2")
	p, err := reviews.MappedPort(ctx, "9080/tcp")
	if err != nil {
		t.Fatal(err)
	}
	reviewsURL := "http://127.0.0.1:" + p.Port() + "/reviews/0"
	if got := rating(t, reviewsURL); got != "5 stars" {
		t.Fatalf("before the fault: %s, want 5 stars", got)
	}

	const ttl = 3 * time.Second
	ov, err := fl.Overlay(ctx, "bookinfo", ttl, ratingsDown)
	if err != nil {
		t.Fatal(err)
	}
	laid := time.Now()
	if got, want := rating(t, reviewsURL), "Ratings service is currently unavailable"; got != want {
		t.Errorf("ratings down: %s, want %s", got, want)
	}
	if !wait.Until(ttl+10*time.Second-time.Since(laid), func() bool { return rating(t, reviewsURL) == "5 stars" }) {
		t.Fatalf("the stars are not back %s after an overlay of %s", time.Since(laid).Round(time.Millisecond), ttl)
	}
	if d := time.Since(laid); d < ttl-500*time.Millisecond {
		t.Errorf("the overlay ended after %s, before its TTL of %s", d, ttl)
	}
	// It has ended: removing it is not an error.
	if err := ov.Remove(ctx); err != nil {
		t.Errorf("Remove after the TTL: %v", err)
	}
}

// demoContainer runs one Bookinfo service of the Faultline image on nw as
// alias, listening on 9080, published on 127.0.0.1 only.
func demoContainer(t *testing.T, image string, nw *testcontainers.DockerNetwork, alias, service string, env map[string]string, args ...string) *testcontainers.DockerContainer {
	t.Helper()
	cmd := append([]string{"demo", "bookinfo", "--service", service, "--listen", "0.0.0.0:9080"}, args...)
	ctr, err := testcontainers.Run(t.Context(), image,
		testcontainers.WithCmd(cmd...),
		testcontainers.WithEnv(env),
		testcontainers.WithExposedPorts("9080/tcp"),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{network.MustParsePort("9080/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
		}),
		tcnetwork.WithNetwork([]string{alias}, nw),
		testcontainers.WithWaitStrategy(tcwait.ForLog(fmt.Sprintf("demo %s", service)).WithStartupTimeout(30*time.Second)),
	)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatal(err)
	}
	return ctr
}

// rating is the first review's rating from reviews: "N stars" or its
// error.
func rating(t *testing.T, reviewsURL string) string {
	t.Helper()
	// Straight to the published port, whatever HTTP_PROXY the test has.
	hc := &http.Client{Transport: &http.Transport{Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }}, Timeout: 20 * time.Second}
	resp, err := hc.Get(reviewsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Reviews []struct {
			Rating *struct {
				Stars int
				Error string
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Reviews) == 0 || r.Reviews[0].Rating == nil {
		t.Fatalf("GET %s: %s, %+v (%v)", reviewsURL, resp.Status, r, err)
	}
	if e := r.Reviews[0].Rating.Error; e != "" {
		return e
	}
	return fmt.Sprintf("%d stars", r.Reviews[0].Rating.Stars)
}
