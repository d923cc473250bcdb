package scenarios_test

import (
	"testing"

	"github.com/faultline/faultline/scenarios"
)

func TestIsLoopbackHost(t *testing.T) {
	for _, tc := range []struct {
		name, host string
		want       bool
	}{
		{"IPv4 loopback", "127.0.0.1", true},
		{"anywhere in 127.0.0.0/8", "127.8.9.10", true},
		{"IPv6 loopback", "::1", true},
		{"localhost by name", "localhost", true},
		{"host names are case-insensitive", "LocalHost", true},
		{"a private address is not loopback", "10.0.0.1", false},
		{"the unspecified address listens everywhere", "0.0.0.0", false},
		{"a name that only starts like localhost", "localhost.example.com", false},
		{"no host at all", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := scenarios.IsLoopbackHost(tc.host); got != tc.want {
				t.Errorf("IsLoopbackHost(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}

func TestGRPCCode(t *testing.T) {
	for _, tc := range []struct {
		name, code string
		want       int
		ok         bool
	}{
		{"the first code", "OK", 0, true},
		{"the code Istio's examples use", "UNAVAILABLE", 14, true},
		{"the last code", "UNAUTHENTICATED", 16, true},
		{"names are upper case, as Istio spells them", "unavailable", 0, false},
		{"numbers are not names", "14", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := scenarios.GRPCCode(tc.code)
			if got != tc.want || ok != tc.ok {
				t.Errorf("GRPCCode(%q) = %d, %v, want %d, %v", tc.code, got, ok, tc.want, tc.ok)
			}
		})
	}
}
