package experiment

import (
	"fmt"
	"net/url"

	"github.com/faultline/faultline/loadgen"
	"github.com/faultline/faultline/scenarios"
)

// loadTLS readies an https:// load for the gateway listener it enters
// through: the load connects to the listener's address, asks for the
// URL's host (SNI, and the name it verifies), trusts the run's CA and,
// when the server asks for client certificates, presents one the run's CA
// signed (docs/istio.md, Gateways). A server whose certificate comes from
// the credentials directory is not verified, and a warning says so: the
// run cannot know which roots it chains to. warnings go to the report.
func loadTLS(spec *loadgen.Spec, l *scenarios.Load, dp dataPlane) (warnings []string, err error) {
	u, err := url.Parse(l.URL)
	if err != nil || u.Scheme != "https" {
		return nil, nil
	}
	t := &loadgen.TLS{ServerName: u.Hostname()}
	spec.TLS = t
	if dp.px == nil || dp.ca == nil {
		t.Insecure = true
		return []string{"spec.load.url: the load does not verify the certificate of the environment's gateway"}, nil
	}
	ok, issued, mutual := dp.px.Table().TerminatesTLS(via(l), urlPort(u))
	if !ok {
		return nil, fmt.Errorf("engine: spec.load.url: gateway %s does not terminate TLS on port %d", via(l), urlPort(u))
	}
	if issued {
		t.CACert = dp.ca.RootPEM()
	} else {
		t.Insecure = true
		warnings = append(warnings, fmt.Sprintf("spec.load.url: the load does not verify gateway %s's certificate from the credentials directory", via(l)))
	}
	if mutual {
		if t.Cert, t.Key, err = dp.ca.IssuePEM([]string{"faultline-load"}, true); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		if !issued {
			warnings = append(warnings, fmt.Sprintf("spec.load.url: gateway %s verifies client certificates against the credentials directory's CA; the load presents one of the run's CA", via(l)))
		}
	}
	return warnings, nil
}
