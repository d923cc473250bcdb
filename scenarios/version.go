package scenarios

import (
	"fmt"
	"strconv"
	"strings"
)

// IstioVersion is a release whose defaults apply, e.g. 1.8.
type IstioVersion struct {
	Major, Minor int
}

// CurrentIstio is the release Faultline follows when an experiment names none.
var CurrentIstio = IstioVersion{Major: 1, Minor: 30}

// ParseIstioVersion reads "1.8" (a patch part, "1.8.2", is accepted and
// ignored); the empty string means CurrentIstio.
func ParseIstioVersion(s string) (IstioVersion, error) {
	if s == "" {
		return CurrentIstio, nil
	}
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return IstioVersion{}, fmt.Errorf("must be a release such as \"1.8\", not %q", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || major != 1 || minor < 0 {
		return IstioVersion{}, fmt.Errorf("must be a 1.N release such as \"1.8\", not %q", s)
	}
	return IstioVersion{Major: major, Minor: minor}, nil
}

// String renders "1.8".
func (v IstioVersion) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// AtLeast reports whether v is minor or later (1.minor).
func (v IstioVersion) AtLeast(minor int) bool { return v.Minor >= minor }

// Defaults are the behaviours Istio changed between releases
// (docs/istio.md, Istio releases).
type Defaults struct {
	// RetryOn503 adds upstream 503 to the default retry policy (≤ 1.23).
	RetryOn503 bool
	// ShadowHostSuffix appends "-shadow" to the Host of mirrored requests (≤ 1.27).
	ShadowHostSuffix bool
	// ConsecutiveErrorsHonoured maps outlierDetection.consecutiveErrors to
	// gateway errors (≤ 1.6); later releases ignore the field.
	ConsecutiveErrorsHonoured bool
	// WeightsMustSumTo100 rejects route weights not totalling 100 (≤ 1.14).
	WeightsMustSumTo100 bool
	// DefaultLoadBalancer is ROUND_ROBIN before 1.14, LEAST_REQUEST since.
	DefaultLoadBalancer string
	// RetryBackoffHonoured applies retries.backoff and
	// retryIgnorePreviousHosts (≥ 1.26).
	RetryBackoffHonoured bool
	// PanicThresholdFromMinHealth sets the panic threshold to
	// minHealthPercent when outlier detection is on (≥ 1.3).
	PanicThresholdFromMinHealth bool
}

// Defaults returns the defaults of release v.
func (v IstioVersion) Defaults() Defaults {
	lb := "LEAST_REQUEST"
	if !v.AtLeast(14) {
		lb = "ROUND_ROBIN"
	}
	return Defaults{
		RetryOn503:                  !v.AtLeast(24),
		ShadowHostSuffix:            !v.AtLeast(28),
		ConsecutiveErrorsHonoured:   !v.AtLeast(7),
		WeightsMustSumTo100:         !v.AtLeast(15),
		DefaultLoadBalancer:         lb,
		RetryBackoffHonoured:        v.AtLeast(26),
		PanicThresholdFromMinHealth: v.AtLeast(3),
	}
}
