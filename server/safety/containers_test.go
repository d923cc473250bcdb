package safety_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/server/safety"
)

// containerExperiment is an experiment with one container endpoint.
func containerExperiment(container string) string {
	return strings.Replace(doc, "{demo: httpbin, labels: {version: v1}}", "{container: "+container+"}", 1)
}

func TestContainerPolicy(t *testing.T) {
	root := t.TempDir()
	allowed := filepath.Join(root, "targets")
	inside := filepath.Join(allowed, "httpbin")
	outside := filepath.Join(root, "secrets")
	for _, d := range []string{inside, outside, allowed + "-2"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A link under the allowed directory that leads out of it.
	if err := os.Symlink(outside, filepath.Join(allowed, "escape")); err != nil {
		t.Fatal(err)
	}
	// An allowed directory named through a link is resolved too.
	if err := os.Symlink(allowed, filepath.Join(root, "link-to-targets")); err != nil {
		t.Fatal(err)
	}
	policy, err := safety.NewContainerPolicy([]string{filepath.Join(root, "link-to-targets")}, []string{"faultline-demo:*", "registry.local/team/*:v1"})
	if err != nil {
		t.Fatal(err)
	}
	none, err := safety.NewContainerPolicy(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const ctr = "spec.services[0].endpoints[0].container"
	for _, tc := range []struct {
		name      string
		policy    *safety.ContainerPolicy
		container string
		// field and message of the refusal; empty: allowed
		field, msg string
	}{
		{name: "no policy (the CLI) starts what the file says", policy: nil, container: `{build: {context: /}, port: 80}`},
		{name: "a build under the allowed directory", policy: policy, container: `{build: {context: "` + inside + `"}, port: 80}`},
		{name: "an image the globs allow", policy: policy, container: `{image: "faultline-demo:local", port: 80}`},
		{name: "a registry image with its tag", policy: policy, container: `{image: "registry.local/team/api:v1", port: 80}`},
		{name: "an image without a tag is :latest", policy: policy, container: `{image: "faultline-demo", port: 80}`},
		{name: "no image is allowed until the operator names some", policy: none, container: `{image: "faultline-demo:local", port: 80}`,
			field: ctr + ".image", msg: "serve --allow-image"},
		{name: "no build is allowed until the operator names a directory", policy: none, container: `{build: {context: "` + inside + `"}, port: 80}`,
			field: ctr + ".build.context", msg: "serve --allow-build-dir"},
		{name: "an image the globs do not match", policy: policy, container: `{image: "alpine:3", port: 80, cmd: [sh, -c, "cat /etc/passwd"]}`,
			field: ctr + ".image", msg: "matches none of the images"},
		{name: "a glob's star does not cross a slash", policy: policy, container: `{image: "faultline-demo:x/y", port: 80}`,
			field: ctr + ".image", msg: "matches none"},
		{name: "the root of the file system", policy: policy, container: `{build: {context: /}, port: 80}`,
			field: ctr + ".build.context", msg: "is not under a directory this server builds from"},
		{name: "a relative context climbing out", policy: policy, container: `{build: {context: ../..}, port: 80}`,
			field: ctr + ".build.context", msg: "is relative"},
		{name: "a path that climbs out after entering", policy: policy, container: `{build: {context: "` + allowed + `/../secrets"}, port: 80}`,
			field: ctr + ".build.context", msg: "is not under"},
		{name: "a sibling that shares the prefix", policy: policy, container: `{build: {context: "` + allowed + `-2"}, port: 80}`,
			field: ctr + ".build.context", msg: "is not under"},
		{name: "a directory that does not exist", policy: policy, container: `{build: {context: "` + allowed + `/later"}, port: 80}`,
			field: ctr + ".build.context", msg: "does not exist"},
		{name: "a link inside that leads out", policy: policy, container: `{build: {context: "` + filepath.Join(allowed, "escape") + `"}, port: 80}`,
			field: ctr + ".build.context", msg: "its links resolved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := safety.CheckContainers(parse(t, containerExperiment(tc.container)), tc.policy)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			ce, ok := err.(*safety.ContainerError)
			if !ok || ce.FieldPath() != tc.field || !strings.Contains(ce.Error(), tc.msg) {
				t.Errorf("got %v, want a refusal at %s saying %q", err, tc.field, tc.msg)
			}
		})
	}
	if _, err := safety.NewContainerPolicy([]string{filepath.Join(root, "nonexistent")}, nil); err == nil {
		t.Error("a build directory that does not exist is accepted")
	}
	if _, err := safety.NewContainerPolicy(nil, []string{"faultline-demo:["}); err == nil {
		t.Error("a malformed glob is accepted")
	}
}
