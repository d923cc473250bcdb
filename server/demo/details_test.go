package demo_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/faultline/faultline/server/demo"
)

func TestDetailsServesTheBookByID(t *testing.T) {
	tg, err := demo.New(demo.NameDetails, demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		id         int
	}{
		{"the one book", "/details/0", 0},
		{"any numeric id answers the same book under that id, as details v1 does", "/details/7", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := getPage(t, tg, tc.path, map[string]string{"End-User": "jason"})
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d %s", tc.path, code, body)
			}
			var d demo.Details
			if err := json.Unmarshal([]byte(body), &d); err != nil {
				t.Fatal(err)
			}
			if d.ID != tc.id || d.Author != "William Shakespeare" || d.Year != 1595 || d.ISBN10 != "1234567890" {
				t.Errorf("GET %s = %+v, want the book under id %d", tc.path, d, tc.id)
			}
		})
	}
	if code, body, _ := getPage(t, tg, "/details/x", nil); code != http.StatusBadRequest {
		t.Errorf("GET /details/x = %d %s, want 400 as in Bookinfo", code, body)
	}
	if code, body, _ := getPage(t, tg, "/health", nil); code != http.StatusOK || !strings.Contains(body, "Details is healthy") {
		t.Errorf("GET /health = %d %s", code, body)
	}

	// It counts and remembers what it served, headers included.
	if got, want := tg.Requests(), int64(4); got != want {
		t.Errorf("Requests() = %d, want %d", got, want)
	}
	seen := tg.Seen()
	if len(seen) != 4 || seen[0].Path != "/details/0" || seen[0].Header.Get("End-User") != "jason" || seen[3].Path != "/health" {
		t.Errorf("Seen() = %+v", seen)
	}
}
