package cli

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultMemoryLimit is serve's soft memory ceiling unless told otherwise.
const defaultMemoryLimit = "1GiB"

// memoryLimit reads serve --memory-limit: a size in GOMEMLIMIT's syntax
// (a number of bytes with an optional B, KiB, MiB, GiB or TiB suffix), or
// "off". ok is false for "off".
func memoryLimit(s string) (limit int64, ok bool, err error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return 0, false, nil
	}
	units := []struct {
		suffix string
		scale  float64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	scale, digits := 1.0, s
	for _, u := range units {
		if d, found := strings.CutSuffix(s, u.suffix); found {
			scale, digits = u.scale, d
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(digits), 64)
	if err != nil || n <= 0 || math.IsInf(n*scale, 0) || n*scale >= math.MaxInt64 {
		return 0, false, fmt.Errorf("--memory-limit %q: want a size such as 512MiB or 2GiB, or off", s)
	}
	return int64(n * scale), true, nil
}

// applyMemoryLimit sets the Go runtime's soft memory limit from
// --memory-limit, unless GOMEMLIMIT (gomemlimit, as the environment holds
// it) already set one: that one wins, as the Go documentation promises.
// It returns the limit in force afterwards.
func applyMemoryLimit(flag, gomemlimit string) (int64, error) {
	limit, ok, err := memoryLimit(flag)
	if err != nil {
		return 0, err
	}
	if ok && gomemlimit == "" {
		debug.SetMemoryLimit(limit)
	}
	return debug.SetMemoryLimit(-1), nil
}
