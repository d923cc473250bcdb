package safety

import (
	"fmt"
	"time"

	"github.com/faultline/faultline/scenarios"
)

// Limits are the safety ceilings on the load a run may send.
type Limits struct {
	MaxQPS         float64       // 0 = no ceiling on a positive rate; "as fast as possible" is always allowed
	MaxConnections int           // 0 = no ceiling
	MaxDuration    time.Duration // 0 = no ceiling; also the ceiling of spec.load.timeout
	MaxRequests    int64         // 0 = no ceiling
	// Grace is the part of every run's wall-clock cap (RunCap) beyond its
	// planned load and calls in flight; 0 = DefaultGrace.
	Grace time.Duration
}

// DefaultLimits are the ceilings `serve` and `run` apply unless told otherwise.
var DefaultLimits = Limits{MaxQPS: 10000, MaxConnections: 256, MaxDuration: 10 * time.Minute, MaxRequests: 10_000_000}

// LimitError is a load setting above a safety ceiling.
type LimitError struct {
	Field   string
	Message string
}

func (e *LimitError) Error() string { return e.Field + ": " + e.Message }

// CheckLimits refuses a load that exceeds the ceilings, naming the field.
func CheckLimits(l *scenarios.Load, lim Limits) error {
	if l == nil {
		return nil
	}
	switch {
	case lim.MaxQPS > 0 && l.QPS > lim.MaxQPS:
		return &LimitError{"spec.load.qps", fmt.Sprintf("%g is above the ceiling of %g", l.QPS, lim.MaxQPS)}
	case lim.MaxConnections > 0 && l.Connections > lim.MaxConnections:
		return &LimitError{"spec.load.connections", fmt.Sprintf("%d is above the ceiling of %d", l.Connections, lim.MaxConnections)}
	case lim.MaxDuration > 0 && l.Duration != nil && l.Duration.D() > lim.MaxDuration:
		return &LimitError{"spec.load.duration", fmt.Sprintf("%s is above the ceiling of %s", l.Duration, lim.MaxDuration)}
	case lim.MaxDuration > 0 && l.Timeout != nil && l.Timeout.D() > lim.MaxDuration:
		return &LimitError{"spec.load.timeout", fmt.Sprintf("%s is above the ceiling of %s (the longest a load may last)", l.Timeout, lim.MaxDuration)}
	case lim.MaxRequests > 0 && l.Requests > lim.MaxRequests:
		return &LimitError{"spec.load.requests", fmt.Sprintf("%d is above the ceiling of %d", l.Requests, lim.MaxRequests)}
	}
	return nil
}

// FieldPath names the field at fault.
func (e *LimitError) FieldPath() string { return e.Field }
