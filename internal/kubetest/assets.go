package kubetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// KubeVersion is the Kubernetes version tools/kube/build.sh builds, and
// the name of its default output directory under ~/.cache/faultline.
const KubeVersion = "v1.37.2"

// assets are what a cluster is started from.
type assets struct {
	apiserver, etcd string // executables
	crds            string // Istio's CRD file (multi-document YAML)
}

// assetDirs are the directories searched, in order, before PATH.
func assetDirs() []string {
	var dirs []string
	for _, env := range []string{"FAULTLINE_KUBE_ASSETS", "KUBEBUILDER_ASSETS"} {
		if d := os.Getenv(env); d != "" {
			dirs = append(dirs, d)
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "faultline", "kube-"+KubeVersion))
	}
	return dirs
}

// findBinary returns the first executable named name in assetDirs, else on
// PATH, else "".
func findBinary(name string) string {
	for _, d := range assetDirs() {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

// IstioAPIVersion is the istio.io/api module whose CRDs are installed when
// go.mod requires none (and FAULTLINE_ISTIO_CRDS is not set).
const IstioAPIVersion = "v1.32.0"

// crdFile is the CRD file's path inside the istio.io/api module.
const crdFile = "kubernetes/customresourcedefinitions.gen.yaml"

// findCRDs returns Istio's CRD file: $FAULTLINE_ISTIO_CRDS, else the one in
// the istio.io/api module go.mod requires, else the one in istio.io/api at
// IstioAPIVersion in the module cache; or why there is none.
func findCRDs() (string, error) {
	if p := os.Getenv("FAULTLINE_ISTIO_CRDS"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("FAULTLINE_ISTIO_CRDS: %v", err)
		}
		return p, nil
	}
	var errs []string
	for _, mod := range []string{"istio.io/api", "istio.io/api@" + IstioAPIVersion} {
		var stderr bytes.Buffer
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			errs = append(errs, fmt.Sprintf("go list -m %s: %v: %s", mod, err, strings.TrimSpace(stderr.String())))
			continue
		}
		dir := strings.TrimSpace(string(out))
		if dir == "" {
			errs = append(errs, fmt.Sprintf("%s is not in the module cache (go mod download %s)", mod, mod))
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(crdFile))
		if _, err := os.Stat(p); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		return p, nil
	}
	return "", errors.New(strings.Join(errs, "; "))
}

// findAssets finds the binaries and the CRD file, or says (for a skip or
// failure message) what is missing and how to get it.
func findAssets() (assets, string) {
	a := assets{apiserver: findBinary("kube-apiserver"), etcd: findBinary("etcd")}
	var missing []string
	where := strings.Join(assetDirs(), ", ")
	if a.apiserver == "" {
		missing = append(missing, fmt.Sprintf("kube-apiserver is in none of %s nor on PATH: build it with `bash tools/kube/build.sh` (or set FAULTLINE_KUBE_ASSETS to a directory holding it)", where))
	}
	if a.etcd == "" {
		missing = append(missing, fmt.Sprintf("etcd is in none of %s nor on PATH: `apt-get install etcd-server` (or put etcd beside kube-apiserver)", where))
	}
	crds, err := findCRDs()
	if err != nil {
		missing = append(missing, fmt.Sprintf("Istio's CRD file was not found (%v): `go mod download istio.io/api@%s`, or set FAULTLINE_ISTIO_CRDS to istio.io/api's %s", err, IstioAPIVersion, crdFile))
	}
	a.crds = crds
	return a, strings.Join(missing, "; ")
}
