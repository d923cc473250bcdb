package demo

import (
	"fmt"
	"testing"
)

func TestPickStatus(t *testing.T) {
	weighted, err := parseStatusCodes("200:0.9,503:0.1")
	if err != nil {
		t.Fatal(err)
	}
	uniform, err := parseStatusCodes("200, 429 ,503") // spaces tolerated
	if err != nil {
		t.Fatal(err)
	}
	zeroLast, err := parseStatusCodes("200:1,503:0")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		choices []statusChoice
		u       float64
		want    int
	}{
		{name: "low draw picks the first code", choices: weighted, u: 0, want: 200},
		{name: "just under the first weight", choices: weighted, u: 0.899, want: 200},
		{name: "past the first weight", choices: weighted, u: 0.9, want: 503},
		{name: "top of the range", choices: weighted, u: 0.999999, want: 503},
		{name: "uniform thirds, middle", choices: uniform, u: 0.5, want: 429},
		{name: "uniform thirds, last", choices: uniform, u: 0.7, want: 503},
		{name: "a zero-weight last code is never picked, even on rounding", choices: zeroLast, u: 1, want: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := pickStatus(tc.choices, tc.u); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSeenRingKeepsTheLatest(t *testing.T) {
	r := seenRing{buf: make([]SeenRequest, 3)}
	if got := r.list(); len(got) != 0 {
		t.Fatalf("empty ring: got %d entries", len(got))
	}
	for _, p := range []string{"/1", "/2", "/3", "/4", "/5"} {
		r.add(SeenRequest{Path: p})
	}
	got := r.list()
	var paths []string
	for _, s := range got {
		paths = append(paths, s.Path)
	}
	if want := "[/3 /4 /5]"; fmt.Sprint(paths) != want {
		t.Errorf("got %v, want %s (oldest first, bounded)", paths, want)
	}
}
