package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/export"
)

const abortScenario = "../../scenarios/httpbin-abort.yaml"

// wantExport is the stream package export writes for the scenario file.
func wantExport(t *testing.T, file string, o export.Options) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := scenarios.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := export.Stream(doc, o)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExportCommand(t *testing.T) {
	stdout, stderr, code := faultline(t, "export", abortScenario, "--namespace", "demo")
	if code != 0 {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	if want := wantExport(t, abortScenario, export.Options{Namespace: "demo"}); stdout != want {
		t.Errorf("stdout is not the export of httpbin-abort.yaml:\n%s\nwant\n%s", stdout, want)
	}
	for _, want := range []string{
		"# Experiment httpbin-abort, exported by Faultline for namespace demo",
		"# - spec.services: ",
		"# - spec.hypothesis: ",
		"kind: VirtualService\nmetadata:\n  name: httpbin\n  namespace: demo\n",
		"        httpStatus: 503\n",
		"\n---\n",
		"kind: Job\n",
		"image: fortio/fortio:" + export.FortioVersion + "\n",
		"- http://httpbin.demo.svc.cluster.local:8000/get\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}

	// --out writes the same stream to a file, and standard input is read
	// as -.
	out := filepath.Join(t.TempDir(), "mesh.yaml")
	cmd := []string{"export", "-", "--namespace", "demo", "--domain", "corp.example", "--out", out}
	stdout, stderr, code = faultlineStdin(t, abortScenario, cmd...)
	if code != 0 || stdout != "" {
		t.Fatalf("export --out: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := wantExport(t, abortScenario, export.Options{Namespace: "demo", Domain: "corp.example"}); string(got) != want {
		t.Errorf("--out wrote\n%s\nwant\n%s", got, want)
	}

	// Warnings of the document go to stderr, the stream to stdout.
	stdout, stderr, code = faultline(t, "export", "../../scenarios/ratings-retries.yaml")
	if code != 0 || !strings.Contains(stderr, "warning:") || !strings.Contains(stdout, "namespace: default\n") {
		t.Errorf("export with warnings, default namespace: exit %d\nstderr %s\nstdout %s", code, stderr, stdout)
	}
}

func TestExportCommandRefusals(t *testing.T) {
	bad := strings.Replace(strings.Replace(experiment, "HYPOTHESIS", "1", 1), "percentage: {value: 100}", "percentage: {value: 120}", 1)
	stdout, stderr, code := faultline(t, "export", writeFile(t, bad))
	if code != 2 || stdout != "" || !strings.Contains(stderr, "spec.http[0].fault.abort.percentage.value") {
		t.Errorf("export of an invalid document: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	stdout, stderr, code = faultline(t, "export", abortScenario, "--namespace", "Not_A_Namespace")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "--namespace must be a Kubernetes namespace name") {
		t.Errorf("export --namespace Not_A_Namespace: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	stdout, _, code = faultline(t, "export", "--help")
	if code != 0 || !strings.Contains(stdout, "Usage:") || !strings.Contains(stdout, "--namespace") {
		t.Errorf("export --help: exit %d\n%s", code, stdout)
	}
}

// faultlineStdin runs the binary as faultline does, with file as its
// standard input.
func faultlineStdin(t *testing.T, file string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(binary, args...)
	var out, errOut strings.Builder
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f, &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("faultline %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// TestExportRoute asks a server for the export of its stored
// httpbin-abort experiment (one of the examples an empty database starts
// with): the answer is the stream `faultline export` writes.
func TestExportRoute(t *testing.T) {
	db := filepath.Join(t.TempDir(), "faultline.db")
	p := startProc(t, "serve", childEnv(), "serve", "--addr", "127.0.0.1:0", "--db", db)
	c := apiClient{t: t, base: "http://" + p.waitLine(t, servingLine, 30*time.Second)[1]}
	var list struct {
		Items []struct {
			ID   int64
			Name string
		}
	}
	c.json("GET", "/api/v1/experiments?limit=500", "", nil, http.StatusOK, &list)
	var id int64
	for _, e := range list.Items {
		if e.Name == "httpbin-abort" {
			id = e.ID
		}
	}
	if id == 0 {
		t.Fatalf("the server stores no httpbin-abort experiment: %+v", list.Items)
	}

	path := fmt.Sprintf("/api/v1/experiments/%d/export", id)
	resp, err := http.Get(c.base + path + "?namespace=demo&domain=corp.example")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET %s: %d %s\n%s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	cli, stderr, code := faultline(t, "export", abortScenario, "--namespace", "demo", "--domain", "corp.example")
	if code != 0 {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	if body != cli {
		t.Errorf("GET %s answered\n%s\nwant what faultline export prints:\n%s", path, body, cli)
	}

	// Without queries: namespace default, domain cluster.local.
	code2, b := call(t, "GET", c.base+path, "", "", nil)
	if code2 != http.StatusOK || string(b) != wantExport(t, abortScenario, export.Options{}) {
		t.Errorf("GET %s without queries: %d\n%s", path, code2, b)
	}

	var refusal struct {
		Error struct{ Message, Field string }
	}
	c.json("GET", path+"?namespace=Demo", "", nil, http.StatusUnprocessableEntity, &refusal)
	if refusal.Error.Field != "namespace" {
		t.Errorf("?namespace=Demo: error %+v, want one on field namespace", refusal.Error)
	}
	c.json("GET", "/api/v1/experiments/999999/export", "", nil, http.StatusNotFound, nil)
}
