package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"

	"github.com/faultline/faultline/internal/spawn"
)

// Deadlines of the start's steps.
const (
	etcdDeadline      = 30 * time.Second
	apiserverDeadline = 60 * time.Second
	crdDeadline       = 60 * time.Second
)

// start starts etcd and kube-apiserver from a, installs Istio's CRDs and
// returns the cluster, with a line on how long each step took. On failure
// nothing is left running.
func start(a assets) (c *Cluster, timing string, err error) {
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, "", err
	}
	c = &Cluster{dir: dir, spawn: spawn.New()}
	defer func() {
		if err != nil {
			c.stop()
			c = nil
		}
	}()

	ports, err := freePorts(3)
	if err != nil {
		return c, "", err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	c.URL = "https://127.0.0.1:" + strconv.Itoa(ports[2])

	began := time.Now()
	c.etcd, err = c.run("etcd", a.etcd, etcdEnv(),
		"--name=kubetest",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL,
		"--initial-cluster-state=new",
		"--logger=zap",
		"--log-outputs=stderr",
	)
	if err != nil {
		return c, "", err
	}
	if err := c.waitEtcd(etcdURL); err != nil {
		return c, "", c.failure(err)
	}
	etcdUp := time.Since(began)

	if err := c.writeAuth(); err != nil {
		return c, "", err
	}
	began = time.Now()
	c.apiserver, err = c.run("kube-apiserver", a.apiserver, os.Environ(),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.96.0.0/24",
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--service-account-key-file="+filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--anonymous-auth=false",
	)
	if err != nil {
		return c, "", err
	}
	if err := c.waitReady(); err != nil {
		return c, "", c.failure(err)
	}
	apiserverUp := time.Since(began)

	began = time.Now()
	if err := c.installCRDs(a.crds); err != nil {
		return c, "", c.failure(err)
	}
	timing = fmt.Sprintf("etcd %s, kube-apiserver %s, Istio CRDs %s",
		etcdUp.Round(time.Millisecond), apiserverUp.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	return c, timing, nil
}

// stop kills etcd and kube-apiserver, waits for them and removes the
// cluster's directory.
func (c *Cluster) stop() {
	for _, p := range []*spawn.Proc{c.apiserver, c.etcd} {
		if p != nil {
			p.Kill()
		}
	}
	c.spawn.Close()
	os.RemoveAll(c.dir)
}

// failure adds to err the tail of both processes' logs.
func (c *Cluster) failure(err error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "kubetest: %v", err)
	for _, p := range []*spawn.Proc{c.etcd, c.apiserver} {
		if p == nil {
			continue
		}
		n := 40
		if p == c.etcd {
			n = 20
		}
		fmt.Fprintf(&b, "\n--- last lines of %s's log:\n%s", p.Name, p.Tail(n))
	}
	return errors.New(b.String())
}

// freePorts returns n distinct ports that were free on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// writeAuth writes the service-account key pair and the token file with
// the three users, and keeps their tokens.
func (c *Cluster) writeAuth() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(filepath.Join(c.dir, "sa.key"), priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return err
	}

	// token,user,uid,"group,group"; every user is also in
	// system:authenticated.
	c.tokens = map[string]string{}
	var csv strings.Builder
	for _, u := range []struct{ name, groups string }{{Admin, "system:masters"}, {Editor, ""}, {Nobody, ""}} {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		token := hex.EncodeToString(b[:])
		c.tokens[u.name] = token
		fmt.Fprintf(&csv, "%s,%s,%s", token, u.name, u.name)
		if u.groups != "" {
			fmt.Fprintf(&csv, ",%q", u.groups)
		}
		csv.WriteString("\n")
	}
	return os.WriteFile(filepath.Join(c.dir, "tokens.csv"), []byte(csv.String()), 0o600)
}

// waitEtcd waits until etcd reports itself healthy.
func (c *Cluster) waitEtcd(url string) error {
	deadline := time.Now().Add(etcdDeadline)
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		if err := c.exited(); err != nil {
			return err
		}
		resp, err := client.Get(url + "/health")
		if err == nil {
			var health struct{ Health string }
			err = json.NewDecoder(resp.Body).Decode(&health)
			resp.Body.Close()
			if err == nil && health.Health == "true" {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("health %q", health.Health)
			}
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("etcd not healthy on %s after %s: %v", url, etcdDeadline, last)
}

// waitReady waits until the API server's serving certificate is written
// and /readyz, verified against it, answers ok to admin.
func (c *Cluster) waitReady() error {
	deadline := time.Now().Add(apiserverDeadline)
	certFile := filepath.Join(c.dir, "certs", "apiserver.crt")
	var last error
	for time.Now().Before(deadline) {
		if err := c.exited(); err != nil {
			return err
		}
		last = c.readyz(certFile)
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready on %s after %s: %v", c.URL, apiserverDeadline, last)
}

// readyz asks /readyz once, trusting the certificate in certFile, and on
// success keeps that certificate as c.ca.
func (c *Cluster) readyz(certFile string) error {
	ca, err := os.ReadFile(certFile)
	if err != nil {
		return err
	}
	client, err := c.httpClient(ca)
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	body, err := get(client, c.URL+"/readyz", c.tokens[Admin])
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(body)) != "ok" {
		return fmt.Errorf("/readyz: %s", body)
	}
	c.ca = ca
	return nil
}

// httpClient returns a client that trusts the certificates in the PEM ca.
func (c *Cluster) httpClient(ca []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s/certs/apiserver.crt yet", c.dir)
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}, nil
}

// get GETs url with a bearer token and returns the body of a 200.
func get(client *http.Client, url, token string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// exited returns an error when etcd or kube-apiserver has exited.
func (c *Cluster) exited() error {
	for _, p := range []*spawn.Proc{c.etcd, c.apiserver} {
		if p == nil {
			continue
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited early: %v", p.Name, p.Err())
		default:
		}
	}
	return nil
}

var crdsGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installCRDs creates every CRD of the multi-document YAML file at path and
// waits until each is Established and discovery serves
// networking.istio.io/v1 virtualservices.
func (c *Cluster) installCRDs(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), crdDeadline)
	defer cancel()
	d, err := dynamic.NewForConfig(c.RESTConfig(Admin))
	if err != nil {
		return err
	}

	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	var names []string
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if len(m) == 0 {
			continue // an empty document
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() != "CustomResourceDefinition" {
			return fmt.Errorf("%s: a %s %q among the CRDs", path, u.GetKind(), u.GetName())
		}
		if _, err := d.Resource(crdsGVR).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating CRD %s: %v", u.GetName(), err)
		}
		names = append(names, u.GetName())
	}
	if len(names) == 0 {
		return fmt.Errorf("%s: no CRDs", path)
	}

	pending := names
	for len(pending) > 0 {
		list, err := d.Resource(crdsGVR).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing CRDs: %v", err)
		}
		established := map[string]bool{}
		for _, crd := range list.Items {
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					established[crd.GetName()] = true
				}
			}
		}
		var still []string
		for _, n := range pending {
			if !established[n] {
				still = append(still, n)
			}
		}
		pending = still
		if len(pending) > 0 {
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return fmt.Errorf("CRDs not established after %s: %s", crdDeadline, strings.Join(pending, ", "))
			}
		}
	}

	client, err := c.httpClient(c.ca)
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	for {
		body, err := get(client, c.URL+"/apis/networking.istio.io/v1", c.tokens[Admin])
		if err == nil {
			var list metav1.APIResourceList
			if err = json.Unmarshal(body, &list); err == nil {
				err = fmt.Errorf("no virtualservices in networking.istio.io/v1 yet")
				for _, r := range list.APIResources {
					if r.Name == "virtualservices" {
						return nil
					}
				}
			}
		}
		if sleep(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("discovery: %v", err)
		}
	}
}

// sleep waits for d, or returns ctx's error when it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// etcdEnv is the environment for etcd: this process's without ETCD_*
// variables (etcd refuses those that its flags set too), but with
// ETCD_UNSUPPORTED_ARCH on architectures other than amd64, which etcd 3.4
// needs to start at all.
func etcdEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			env = append(env, kv)
		}
	}
	if runtime.GOARCH != "amd64" {
		env = append(env, "ETCD_UNSUPPORTED_ARCH="+runtime.GOARCH)
	}
	return env
}

// run starts the executable bin with env and args in the cluster's
// directory, logging to <name>.log there.
func (c *Cluster) run(name, bin string, env []string, args ...string) (*spawn.Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = c.dir
	cmd.Env = env
	return c.spawn.Run(name, cmd)
}
