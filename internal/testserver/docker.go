package testserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/faultline/faultline/server/containers"
)

// DisableRyuk turns off testcontainers' reaper unless the environment
// says otherwise: its image cannot be pulled here. Call it before the
// first container starts (from TestMain).
func DisableRyuk() {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
}

// NeedDocker skips the test when no Docker engine answers, or fails it
// when CI is set.
func NeedDocker(t testing.TB) {
	t.Helper()
	if err := containers.Ping(context.Background()); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but no Docker engine answers: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
}

// moduleRoot is the repository's root directory.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// BuildBinary builds Faultline's static binary (no cgo, so that it runs in
// an empty image) into dir and returns its path.
func BuildBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "faultline")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/faultline")
	cmd.Dir = moduleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// WriteDemoDockerfile writes scripts/demo-target.Dockerfile, the demo
// httpbin target's image, into the build context dir, which must hold
// the static binary too.
func WriteDemoDockerfile(dir string) error {
	b, err := os.ReadFile(filepath.Join(moduleRoot(), "scripts", "demo-target.Dockerfile"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "Dockerfile"), b, 0o644)
}

// DemoTargetContext writes a Docker build context for the demo httpbin
// target under t.TempDir(), the static binary and its Dockerfile, and
// returns its directory.
func DemoTargetContext(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := BuildBinary(dir); err != nil {
		t.Fatal(err)
	}
	if err := WriteDemoDockerfile(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}
