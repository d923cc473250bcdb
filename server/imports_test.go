package server_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowedImports is the import table of docs/architecture.md (Package
// layering): the in-repo packages each package may import directly.
// Anything else in the repo is forbidden.
var allowedImports = map[string][]string{
	"bench": {"loadgen", "proxy", "scenarios", "server/demo"},
	// bench/tailprobe runs the target, the proxy and fortio in one process.
	"bench/tailprobe": {"proxy", "scenarios", "server/demo"},
	// bench/loadgenrate runs loadgen alone, against the bare fortio CLI.
	"bench/loadgenrate": {"loadgen"},
	"client":            {}, // the standard library only: other modules vendor it without the server's dependencies
	"cmd/faultline":     {"internal/cli"},
	// cmd/faultline-proxy is the proxy alone, a binary of its own.
	"cmd/faultline-proxy": {"internal/exitcode", "internal/proxyrun"},
	// examples/ci holds only the test of the CI examples.
	"examples/ci": {},
	// internal/cli holds the commands, one file each: serve hands over to
	// server, the others call the packages below it.
	"internal/cli": {"client", "internal/exitcode", "internal/input", "internal/proxyrun", "proxy", "scenarios", "server", "server/containers", "server/demo", "server/engine/experiment", "server/engine/gameday", "server/export", "server/report", "server/runstatus", "server/safety", "server/store"},
	// internal/testserver stands the server and the demo target up for
	// tests in several packages; only tests import it.
	"internal/testserver": {"server", "server/containers"},
	// internal/kubetest stands a real API server with Istio's CRDs up for
	// tests; only tests import it.
	"internal/kubetest": {"internal/spawn"},
	// internal/exitcode is the binaries' exit codes.
	"internal/exitcode": {},
	// internal/input reads the commands' documents and credentials.
	"internal/input": {"scenarios"},
	// internal/proxyrun runs the proxy alone: `faultline proxy` and
	// faultline-proxy.
	"internal/proxyrun": {"internal/exitcode", "internal/input", "proxy", "scenarios", "server/safety"},
	// internal/spawn starts the harnesses' server processes.
	"internal/spawn": {},
	// internal/pgtest stands a throwaway PostgreSQL server up for tests;
	// only tests import it.
	"internal/pgtest": {"internal/spawn"},
	// internal/wait is the tests' one poll-until-it-holds helper; only
	// tests import it.
	"internal/wait":               {},
	"loadgen":                     {},
	"migrations":                  {},
	"proxy":                       {"proxy/inbound", "proxy/internal/httpfield", "scenarios"},
	"proxy/inbound":               {"proxy/internal/httpfield"},
	"proxy/internal/httpfield":    {},
	"scenarios":                   {},
	"server":                      {"proxy", "scenarios", "server/api", "server/engine/experiment", "server/errkind", "server/manager/environments", "server/manager/gamedays", "server/manager/runs", "server/report", "server/runstatus", "server/safety", "server/scheduler", "server/store", "server/webhook", "web"},
	"server/api":                  {"proxy", "scenarios", "server/errkind", "server/export", "server/manager/environments", "server/report", "server/runstatus", "server/store"},
	"server/containers":           {"scenarios", "server/report"},
	"server/demo":                 {},
	"server/engine/experiment":    {"loadgen", "proxy", "scenarios", "server/containers", "server/demo", "server/report", "server/runstatus", "server/safety"},
	"server/manager/environments": {"proxy", "scenarios", "server/errkind", "server/mesh", "server/report", "server/safety", "server/store"},
	"server/errkind":              {},
	"server/export":               {"scenarios"},
	"server/engine/gameday":       {"scenarios", "server/engine/experiment", "server/report", "server/runstatus"},
	"server/manager/gamedays":     {"scenarios", "server/engine/gameday", "server/errkind", "server/manager/live", "server/manager/runs", "server/report", "server/runstatus", "server/safety", "server/store", "server/webhook"},
	"server/manager/live":         {},
	"server/mesh":                 {"scenarios", "server/report", "server/store"},
	"server/report":               {"proxy", "scenarios", "server/runstatus"},
	"server/manager/runs":         {"proxy", "scenarios", "server/engine/experiment", "server/errkind", "server/manager/live", "server/report", "server/runstatus", "server/safety", "server/store"},
	"server/runstatus":            {},
	// server/safety is the safety policy: load ceilings, allow-list,
	// container policy, admission, the lever's refusal.
	"server/safety":    {"scenarios", "server/errkind"},
	"server/scheduler": {"server/errkind", "server/store"},
	"server/store":     {"migrations", "server/errkind", "server/runstatus"},
	"server/webhook":   {},
	"tc":               {"client"}, // the testcontainers-go module drives the server through its client only
	"web":              {},
}

// forbiddenModules keeps heavy dependencies out of the packages that must
// stay usable as libraries, directly or through any package they import,
// and out of faultline-proxy, which must stay small.
var forbiddenModules = map[string][]string{
	"cmd/faultline-proxy": {"github.com/gin-gonic/", "gorm.io/", "fortio.org/", "github.com/testcontainers/", "github.com/moby/", "github.com/jackc/", "modernc.org/", "github.com/glebarez/", "github.com/prometheus/"},
	"proxy":               {"github.com/gin-gonic/", "gorm.io/", "fortio.org/"},
	"loadgen":             {"github.com/gin-gonic/", "gorm.io/"},
	"scenarios":           {"github.com/gin-gonic/", "gorm.io/", "fortio.org/"},
	"tc":                  {"github.com/gin-gonic/", "gorm.io/", "fortio.org/"},
}

func TestImportsFollowTheLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "github.com/faultline/faultline/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/faultline/faultline/"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var pkg struct {
			ImportPath string
			Imports    []string
			Deps       []string
		}
		if err := dec.Decode(&pkg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(pkg.ImportPath, module)
		allowed, known := allowedImports[name]
		if !known {
			t.Errorf("package %s is not in the import table; add it with its allowed imports", name)
			continue
		}
		for _, imp := range pkg.Imports {
			if dep, ok := strings.CutPrefix(imp, module); ok && !slices.Contains(allowed, dep) {
				t.Errorf("%s imports %s, which the layering forbids", name, dep)
			}
		}
		for _, dep := range pkg.Deps {
			for _, bad := range forbiddenModules[name] {
				if strings.HasPrefix(dep, bad) {
					t.Errorf("%s depends on %s; it must stay free of %s", name, dep, bad)
				}
			}
		}
	}
}
