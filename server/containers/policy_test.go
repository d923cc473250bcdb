package containers_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/server"
	"github.com/faultline/faultline/server/runstatus"
)

// runThroughTheAPI stores src on the server at base, runs it and waits
// for its end.
func runThroughTheAPI(t *testing.T, base, src string) (status, reason string, codes map[string]int64) {
	t.Helper()
	var exp struct {
		ID int64 `json:"id"`
	}
	apiCall(t, "POST", base+"/api/v1/experiments", "application/yaml", src, http.StatusCreated, &exp)
	var run struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		Reason string `json:"reason"`
		Report *struct {
			Codes map[string]int64 `json:"codes"`
		} `json:"report"`
	}
	apiCall(t, "POST", fmt.Sprintf("%s/api/v1/experiments/%d/runs", base, exp.ID), "application/json", "", http.StatusAccepted, &run)
	ended := func() bool { return run.Status != "queued" && run.Status != "running" }
	if !wait.Until(3*time.Minute, func() bool {
		if !ended() {
			apiCall(t, "GET", fmt.Sprintf("%s/api/v1/runs/%d", base, run.ID), "", "", http.StatusOK, &run)
		}
		return ended()
	}) {
		t.Fatalf("run still %s", run.Status)
	}
	if run.Report != nil {
		codes = run.Report.Codes
	}
	return run.Status, run.Reason, codes
}

// TestTheAPIBuildsOnlyUnderAnAllowedDirectory is the operator's side of
// serve --allow-build-dir and --allow-image, with a real Docker engine: a
// build under the allowed directory and an allowed image run; a context
// that leaves it, even through a link, and an image no glob matches are
// refused before anything is stored, let alone built.
func TestTheAPIBuildsOnlyUnderAnAllowedDirectory(t *testing.T) {
	tag, dir := demoImage(t)
	allowed := t.TempDir()
	target := filepath.Join(allowed, "httpbin")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"faultline", "Dockerfile"} { // the demo target's build context
		if err := copyFile(filepath.Join(dir, f), filepath.Join(target, f)); err != nil {
			t.Fatal(err)
		}
	}
	// A link inside the allowed directory to the one above the demo's.
	if err := os.Symlink(filepath.Dir(dir), filepath.Join(allowed, "escape")); err != nil {
		t.Fatal(err)
	}
	base, _ := testserver.Start(t, server.Config{AllowBuildDirs: []string{allowed}, AllowImages: []string{strings.Split(tag, ":")[0] + ":*"}})

	status, reason, codes := runThroughTheAPI(t, base, experimentYAML(`{build: {context: "`+target+`"}, port: 8080, wait: {path: /get}}`,
		`{url: "http://httpbin:8000/get", requests: 10}`, ""))
	if status != string(runstatus.Succeeded) || codes["200"] != 10 {
		t.Errorf("build under the allowed directory: %s (%s), codes %v", status, reason, codes)
	}
	status, reason, codes = runThroughTheAPI(t, base, strings.Replace(experimentYAML(`{image: "`+tag+`", port: 8080, wait: {path: /get}}`,
		`{url: "http://httpbin:8000/get", requests: 10}`, ""), "name: containers", "name: allowed-image", 1))
	if status != string(runstatus.Succeeded) || codes["200"] != 10 {
		t.Errorf("an allowed image: %s (%s), codes %v", status, reason, codes)
	}

	for _, tc := range []struct{ name, container, field, want string }{
		{"escape", `{build: {context: "` + filepath.Join(allowed, "escape") + `"}, port: 8080}`, "build.context", "its links resolved"},
		{"root", `{build: {context: /}, port: 8080}`, "build.context", "is not under"},
		{"busybox", `{image: "busybox:latest", port: 8080, cmd: [sh, -c, "id"]}`, "image", "matches none"},
	} {
		var refusal struct {
			Error struct{ Message, Field string } `json:"error"`
		}
		src := strings.Replace(experimentYAML(tc.container, `{url: "http://httpbin:8000/get", requests: 1}`, ""), "name: containers", "name: "+tc.name, 1)
		apiCall(t, "POST", base+"/api/v1/experiments", "application/yaml", src, http.StatusUnprocessableEntity, &refusal)
		if refusal.Error.Field != "spec.services[0].endpoints[0].container."+tc.field || !strings.Contains(refusal.Error.Message, tc.want) {
			t.Errorf("%s: refusal %+v", tc.name, refusal.Error)
		}
	}
}
