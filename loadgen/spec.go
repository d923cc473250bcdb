package loadgen

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// SpecError reports one invalid [Spec] field. Run returns these (joined with
// errors.Join when several fields are wrong); match them with errors.As.
type SpecError struct {
	// Field is the lower-case field name, e.g. "connections" or "header".
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error returns "loadgen: spec.<field>: <reason>".
func (e *SpecError) Error() string {
	return "loadgen: spec." + e.Field + ": " + e.Reason
}

// Validate reports every invalid field of s as a [*SpecError], joined with
// errors.Join. It returns nil when s can be run.
func (s Spec) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &SpecError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if err := checkURL(s.URL); err != nil {
		bad("url", "%v", err)
	}
	// A method is a token, the syntax of a header field name.
	if s.Method != "" && !httpguts.ValidHeaderFieldName(s.Method) {
		bad("method", "%q is not a valid HTTP method", s.Method)
	}
	for name, values := range s.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			bad("header", "%q is not a valid header name", name)
		}
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n\x00") {
				bad("header", "value of %q contains CR, LF or NUL", name)
			}
		}
	}
	if strings.ContainsAny(s.ContentType, "\r\n\x00") {
		bad("contentType", "contains CR, LF or NUL")
	}
	if s.QPS < 0 || math.IsNaN(s.QPS) || math.IsInf(s.QPS, 0) {
		bad("qps", "must be a finite number >= 0 (0 = as fast as possible), got %v", s.QPS)
	}
	if s.Connections < 0 {
		bad("connections", "must be >= 1 (or 0 for the default %d), got %d", DefaultConnections, s.Connections)
	}
	if s.Requests < 0 {
		bad("requests", "must be >= 0 (0 = bound by duration), got %d", s.Requests)
	}
	if s.Duration < 0 {
		bad("duration", "must be >= 0 (0 = default %v), got %v", DefaultDuration, s.Duration)
	}
	if s.Timeout < 0 {
		bad("timeout", "must be >= 0 (0 = default %v), got %v", DefaultTimeout, s.Timeout)
	}
	if s.ProgressInterval < 0 {
		bad("progressInterval", "must be >= 0 (0 = default %v), got %v", DefaultProgressInterval, s.ProgressInterval)
	}
	if s.TLS != nil {
		if err := s.TLS.validate(s.URL); err != nil {
			bad("tls", "%v", err)
		}
	}
	if s.Resolution < 0 {
		bad("resolution", "must be >= 0 (0 = fortio's 1ms), got %v", s.Resolution)
	}
	for i, edge := range s.PhaseEdges {
		switch {
		case edge <= 0:
			bad("phaseEdges", "edge %d is %v, must be > 0", i, edge)
		case i > 0 && edge <= s.PhaseEdges[i-1]:
			bad("phaseEdges", "edge %d (%v) is not after edge %d (%v): edges must be strictly increasing", i, edge, i-1, s.PhaseEdges[i-1])
		}
	}
	if len(s.PhaseEdges) > 0 && s.Requests > 0 {
		bad("phaseEdges", "phases need a duration-bound run, but requests is %d", s.Requests)
	}
	return errors.Join(errs...)
}

// withDefaults returns a copy of a valid s with every zero default filled in
// and the fortio quirks around small counts ironed out.
func (s Spec) withDefaults() Spec {
	if s.Connections == 0 {
		s.Connections = DefaultConnections
	}
	if s.Requests > 0 && int64(s.Connections) > s.Requests {
		// At max speed fortio makes at least one call per connection,
		// so more connections than calls would overshoot Requests.
		s.Connections = int(s.Requests)
	}
	if s.Requests == 1 {
		// A rate means nothing for one call, and fortio's paced mode
		// makes at least 2 calls: use max speed, which makes exactly 1.
		s.QPS = 0
	}
	if s.Requests == 0 && s.Duration == 0 {
		s.Duration = DefaultDuration
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.ProgressInterval == 0 {
		s.ProgressInterval = DefaultProgressInterval
	}
	if s.Method == "" {
		s.Method = "GET"
		if len(s.Body) > 0 {
			s.Method = "POST"
		}
	}
	return s
}

// checkURL accepts absolute http and https URLs with a host.
func checkURL(raw string) error {
	if raw == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("missing host")
	}
	return nil
}

// redactURL hides any password in raw, for error messages and Result.Raw.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}
