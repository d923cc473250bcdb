package proxy_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"
)

// An east-west gateway in AUTO_PASSTHROUGH routes by the cluster its SNI
// names ("outbound_.<port>_.<subset>_.<host>"), without VirtualServices:
// the multicluster pattern, where the client's sidecar puts the cluster
// in the SNI of its mTLS. The client verifies the endpoint's certificate
// for the service's own name.
func TestTLSAutoPassthroughRoutesBySNICluster(t *testing.T) {
	v1 := newTLSEcho(t, "v1", "reviews.default.svc.cluster.local")
	v2 := newTLSEcho(t, "v2", "reviews.default.svc.cluster.local")
	roots := x509.NewCertPool()
	roots.AddCert(v1.cert)
	roots.AddCert(v2.cert)
	src := experiment(svc("reviews", 9080, v1.addr()+"@version=v1", v2.addr()+"@version=v2"), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: cross-network-gateway}
spec:
  selector: {istio: eastwestgateway}
  servers:
  - port: {number: 15443, name: tls, protocol: TLS}
    tls: {mode: AUTO_PASSTHROUGH}
    hosts: ["*.local"]
`, `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`)
	h := start(t, src)
	addr, ok := h.p.GatewayAddr("cross-network-gateway", 15443)
	if !ok {
		t.Fatal("no listener for cross-network-gateway:15443")
	}
	exchange := func(sni string) (string, error) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Client(c, &tls.Config{
			ServerName: sni,
			// The SNI names a cluster, not the certificate: verify the
			// chain for the service's name instead.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: "reviews.default.svc.cluster.local"})
				return err
			},
		})
		if err := tc.Handshake(); err != nil {
			return "", err
		}
		_, _ = io.WriteString(tc, "hi\n")
		return bufio.NewReader(tc).ReadString('\n')
	}
	for sni, want := range map[string]string{
		"outbound_.9080_.v1_.reviews.default.svc.cluster.local": "v1:hi\n",
		"outbound_.9080_.v2_.reviews.default.svc.cluster.local": "v2:hi\n",
	} {
		for range 3 {
			if got, err := exchange(sni); err != nil || got != want {
				t.Fatalf("SNI %s: got %q, %v; want %q", sni, got, err, want)
			}
		}
	}
	if got, err := exchange("outbound_.9080_._.reviews.default.svc.cluster.local"); err != nil || (got != "v1:hi\n" && got != "v2:hi\n") {
		t.Errorf("the service's own cluster: got %q, %v", got, err)
	}
	if _, err := exchange("outbound_.9080_.v3_.reviews.default.svc.cluster.local"); err == nil {
		t.Error("a subset no DestinationRule defines: handshake completed, want the connection closed")
	}
	st := h.p.Stats()
	if c, _ := st.Cluster("outbound|9080|v2|reviews.default.svc.cluster.local"); c.UpstreamCxTotal != 3 {
		t.Errorf("v2: upstream_cx_total %d, want 3", c.UpstreamCxTotal)
	}
	if ls, _ := st.Listener("cross-network-gateway:15443"); ls.TCPNoRoute != 1 {
		t.Errorf("no_route %d, want 1", ls.TCPNoRoute)
	}
}
