package report

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/proxy"
)

func TestDryRunTextNamesTheStatusOfAMissingCluster(t *testing.T) {
	r := DryRunRoute{Action: "route", Destinations: []proxy.WeightedClusterDump{
		{Name: "outbound|8080||httpbin.default.svc.cluster.local", Weight: 80},
		{Name: "outbound|8080||missing.default.svc.cluster.local", Weight: 20, Missing: true, NotFoundStatus: 500},
	}}
	if got, want := destText(r), "outbound|8080||missing.default.svc.cluster.local (20) [no such cluster: 500 NC]"; !strings.Contains(got, want) {
		t.Errorf("destinations %q, want them to contain %q", got, want)
	}
}
