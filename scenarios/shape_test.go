package scenarios_test

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios"
)

// gameDayHead opens a game day whose steps follow.
const gameDayHead = "apiVersion: faultline.dev/v1alpha1\nkind: GameDay\nmetadata: {name: deep}\nspec:\n  steadyState: steady.yaml\n  steps: "

// NestedGameDay is the hostile game day of issue 13: parallel groups
// nested depth deep in flow style, 14 bytes a level (5,000 levels make
// 70 KB).
func nestedGameDay(depth int) []byte {
	return []byte(gameDayHead + strings.Repeat("[{parallel: ", depth) + "[{wait: 1s}]" + strings.Repeat("}]", depth) + "\n")
}

// blockNestedGameDay nests by indentation, two more spaces a level.
func blockNestedGameDay(depth int) []byte {
	var b bytes.Buffer
	b.WriteString(gameDayHead + "\n")
	for i := range depth {
		b.WriteString(strings.Repeat(" ", 2+2*i) + "- parallel:\n")
	}
	b.WriteString(strings.Repeat(" ", 2+2*depth) + "- wait: 1s\n")
	return b.Bytes()
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// parsers are the entry points a document reaches from the API.
var parsers = []struct {
	name  string
	parse func(src []byte)
}{
	{"Parse", func(src []byte) { _, _ = scenarios.Parse(src) }},
	{"ParseGameDay", func(src []byte) { _, _ = scenarios.ParseGameDay(src) }},
	{"ParseEnvironment", func(src []byte) { _, _ = scenarios.ParseEnvironment(src) }},
	{"Lint", func(src []byte) { scenarios.Lint(src) }},
}

func TestHostileNestingIsRefusedCheaply(t *testing.T) {
	aliasChain := func(n int) []byte {
		// Each anchor puts the one before it in a parallel group, two
		// levels deeper: the tree is shallow, the steps expanded are not.
		var b bytes.Buffer
		b.WriteString("x:\n  a0: &a0 [{wait: 1s}]\n")
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "  a%d: &a%d [{parallel: *a%d}]\n", i, i, i-1)
		}
		fmt.Fprintf(&b, "%s*a%d\n", strings.TrimPrefix(gameDayHead, ""), n)
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		src  []byte
		// line is the line the problem names; path its field path, when
		// the document got far enough to have one.
		line int
		path string
		want string
	}{
		{name: "the issue's game day: parallel nested 5,000 deep in 70 KB, refused before yaml.v3 parses it",
			src: nestedGameDay(4990), line: 6, want: "nests deeper than 64 levels"},
		{name: "one level past the bound", src: nestedGameDay(MaxParallel + 1), line: 6, want: "nests deeper than 64 levels"},
		{name: "nested by indentation, found in the parsed tree with its field path",
			src: blockNestedGameDay(100), line: 38, path: "spec.steps" + strings.Repeat("[0].parallel", 30), want: "nests deeper than 64 levels"},
		{name: "JSON nesting, as the API takes it", src: []byte(strings.Repeat(`{"a": [`, 3000) + strings.Repeat("]}", 3000)), line: 1, want: "nests deeper than 64 levels"},
		{name: "aliases that nest anchors in each other, bounded as they expand",
			src: aliasChain(40), path: "spec.steps" + strings.Repeat("[0].parallel", 30), want: "nests deeper than 64 levels"},
		{name: "a flat list of a million tiny values, refused unread",
			src: []byte("[" + strings.Repeat("1,", 500_000) + "1]"), line: 1, want: "holds more than 100000 values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			alloc := allocated(func() { _, err = scenarios.ParseGameDay(tc.src) })
			inv, ok := err.(*scenarios.InvalidError)
			if !ok {
				t.Fatalf("ParseGameDay: %v, want an *InvalidError", err)
			}
			p := firstWith(inv.Problems, tc.want)
			if p == nil {
				t.Fatalf("no problem says %q:\n%v", tc.want, inv)
			}
			if tc.line != 0 && p.Line != tc.line {
				t.Errorf("line %d, want %d: %v", p.Line, tc.line, p)
			}
			if tc.path != "" && !strings.HasPrefix(p.Path, tc.path) {
				t.Errorf("path %q, want it to start with %q", p.Path, tc.path)
			}
			// yaml.v3 alone spends about 100 bytes a byte of source on
			// its node tree; before the bound the first case cost 318 MiB.
			if limit := 4<<20 + 40*uint64(len(tc.src)); alloc > limit {
				t.Errorf("parsing %d bytes allocated %.1f MiB, want at most %.1f MiB", len(tc.src), mib(alloc), mib(limit))
			}
		})
	}
}

// MaxParallel is the deepest flow nesting of nestedGameDay that stays
// within scenarios.MaxDepth: the document, spec and steps take three
// levels, and each group two (its step and its list).
const MaxParallel = (scenarios.MaxDepth - 4) / 2

func TestNestingWithinTheBoundIsRead(t *testing.T) {
	// The deepest the bound lets through is still read (and refused only
	// because groups do not nest), so the bound is not what users meet.
	_, err := scenarios.ParseGameDay(nestedGameDay(MaxParallel))
	if err == nil || !strings.Contains(err.Error(), "parallel groups do not nest") || strings.Contains(err.Error(), "nests deeper") {
		t.Errorf("ParseGameDay = %v, want only 'parallel groups do not nest'", err)
	}
	// Brackets inside quoted scalars, comments and block scalars are
	// text, not nesting.
	text := strings.Repeat("[{", 100)
	src := "apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata: {name: quoted, description: \"" + text + "\"}\n" +
		"# " + text + "\n" +
		"spec:\n  services: [{host: httpbin, port: 8000, endpoints: [{demo: httpbin}]}]\n" +
		"  load:\n    url: http://httpbin:8000/post\n    method: POST\n    requests: 1\n    body: |\n      " + text + "\n      " + text + "\n" +
		"    headers:\n      x-text: '" + text + "'\n      x-plain: a [b\n"
	if _, err := scenarios.Parse([]byte(src)); err != nil {
		t.Errorf("Parse: %v", err)
	}
}

func firstWith(ps scenarios.Problems, s string) *scenarios.Problem {
	for i := range ps {
		if strings.Contains(ps[i].Message, s) {
			return &ps[i]
		}
	}
	return nil
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// FuzzDecodeMemory feeds arbitrary streams of up to 64 KB to every
// document parser and holds each to a memory ceiling: at most 4 MiB plus
// 200 bytes a byte of source (yaml.v3's node tree costs up to about 120
// bytes a byte; the ceiling catches anything that grows faster than the
// source, as nesting did at 4,500 bytes a byte).
//
//	go test -run '^$' -fuzz FuzzDecodeMemory -fuzztime 60s ./scenarios/
func FuzzDecodeMemory(f *testing.F) {
	f.Add(nestedGameDay(4500))
	f.Add(blockNestedGameDay(200))
	f.Add([]byte("[" + strings.Repeat("1,", 30_000) + "1]"))
	f.Add([]byte(gameDayHead + strings.Repeat("[{parallel: ", 30) + "[" + strings.Repeat("{wait: 1s},", 4000) + "{wait: 1s}]" + strings.Repeat("}]", 30) + "\n"))
	f.Add([]byte("a: &a [1, 2]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\n"))
	f.Add([]byte("apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata: {name: x}\nspec:\n  load: {headers: {" + strings.Repeat("k", 5000) + ": {a: 1, b: 2, c: 3}}}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 64<<10 {
			t.Skip("beyond the sizes this target covers")
		}
		limit := 4<<20 + 200*uint64(len(src))
		for _, p := range parsers {
			if alloc := allocated(func() { p.parse(src) }); alloc > limit {
				t.Fatalf("%s: %d bytes of source allocated %.1f MiB, above the ceiling of %.1f MiB", p.name, len(src), mib(alloc), mib(limit))
			}
		}
	})
}
