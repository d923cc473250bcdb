package cli

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestMemoryLimitReadsGOMEMLIMITSizes(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int64
		ok       bool
		err      bool
	}{
		{name: "the default", in: defaultMemoryLimit, want: 1 << 30, ok: true},
		{name: "MiB", in: "512MiB", want: 512 << 20, ok: true},
		{name: "a fraction of a unit", in: "1.5GiB", want: 3 << 29, ok: true},
		{name: "plain bytes, as GOMEMLIMIT takes them", in: "1048576", want: 1 << 20, ok: true},
		{name: "off leaves the runtime's limit alone", in: "off"},
		{name: "a word is refused", in: "lots", err: true},
		{name: "a decimal unit is refused, as GOMEMLIMIT refuses it", in: "1GB", err: true},
		{name: "zero would make the collector run all the time", in: "0", err: true},
		{name: "negative", in: "-1GiB", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := memoryLimit(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want an error: %v", err, tc.err)
			}
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMemoryLimitYieldsToGOMEMLIMIT(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	if got, err := applyMemoryLimit("256MiB", ""); err != nil || got != 256<<20 {
		t.Errorf("without GOMEMLIMIT: limit %d, %v; want %d", got, err, 256<<20)
	}
	debug.SetMemoryLimit(before)
	// The runtime read GOMEMLIMIT at start-up; the flag must not undo it.
	if got, err := applyMemoryLimit("256MiB", "3GiB"); err != nil || got != before {
		t.Errorf("with GOMEMLIMIT set: limit %d, %v; want the runtime's %d", got, err, before)
	}
	if _, err := applyMemoryLimit("lots", ""); err == nil || !strings.Contains(err.Error(), "--memory-limit") {
		t.Errorf("a bad size: err = %v, want it to name --memory-limit", err)
	}
}
