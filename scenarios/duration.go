package scenarios

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time span written the way Istio writes it: "7s", "0.5s",
// "500ms", "1m", "1h". It marshals back to the same form.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders the duration in Go's form ("1.5s").
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalText parses an Istio duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("must be a duration such as 500ms, 1s or 1m, not %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText renders the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalJSON accepts a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		return d.UnmarshalText([]byte(s))
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("must be a duration string or integer nanoseconds, not %s", b)
	}
	*d = Duration(n)
	return nil
}

// wholeMillis reports whether Istio's rule for durations holds: at least
// 1ms and a whole number of milliseconds (agent.ValidateDuration).
func (d Duration) wholeMillis() bool {
	return d >= Duration(time.Millisecond) && time.Duration(d)%time.Millisecond == 0
}
