package tc_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/internal/testserver"
)

func TestMain(m *testing.M) {
	testserver.DisableRyuk()
	code := m.Run()
	removeImage()
	os.Exit(code)
}

// The image the tests start: Faultline's own Dockerfile
// (cmd/faultline/Dockerfile) around a static binary of this tree, built
// once per test process under a tag of its own, so that a stale
// faultline:local, or the user's, is neither tested nor touched.
var (
	imageOnce sync.Once
	imageRef  string
	imageErr  error
)

// faultlineImage returns that image, building it on first use. Without a
// Docker engine the test is skipped, unless CI is set.
func faultlineImage(t *testing.T) string {
	t.Helper()
	testserver.NeedDocker(t)
	imageOnce.Do(func() {
		start := time.Now()
		imageRef, imageErr = buildImage()
		if imageErr == nil {
			t.Logf("built %s in %s", imageRef, time.Since(start).Round(time.Millisecond))
		}
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageRef
}

// buildImage builds the image with the classic builder (FROM scratch is
// never pulled), as scripts/build-image.sh and docker-compose build do.
func buildImage() (string, error) {
	dir, err := os.MkdirTemp("", "faultline-tc-image")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if _, err := testserver.BuildBinary(dir); err != nil {
		return "", err
	}
	_, file, _, _ := runtime.Caller(0)
	dockerfile, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "cmd", "faultline", "Dockerfile"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), dockerfile, 0o644); err != nil {
		return "", err
	}
	// The image carries the host's CA bundle for https webhooks; these
	// tests send none, so an empty one does where the host has none.
	ca, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err := os.WriteFile(filepath.Join(dir, "ca-certificates.crt"), ca, 0o644); err != nil {
		return "", err
	}
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ref, err := p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: dir, Dockerfile: "Dockerfile", Repo: "faultline-tc-test", Tag: randomHex(6),
		KeepImage: true, BuildLogWriter: io.Discard,
	}})
	if err != nil {
		return "", fmt.Errorf("build the Faultline image: %w", err)
	}
	return ref, nil
}

func removeImage() {
	if imageRef == "" {
		return
	}
	cli, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "remove", imageRef+":", err)
		return
	}
	defer cli.Close()
	if _, err := cli.ImageRemove(context.Background(), imageRef, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
		fmt.Fprintln(os.Stderr, "remove", imageRef+":", err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
