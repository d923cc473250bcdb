package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/faultline/faultline/internal/testserver"
	"github.com/faultline/faultline/server"
)

// The editor's inline validation: POST /api/v1/validate answers 200 with
// every problem at its line, the server's admission policy included.
func TestValidateEndpointPlacesProblemsAtTheirLines(t *testing.T) {
	base, _ := testserver.Start(t, server.Config{})
	type problem struct {
		Severity, Path, Message string
		Line                    int
	}
	post := func(contentType, body string) (int, bool, []problem) {
		t.Helper()
		resp, err := http.Post(base+"/api/v1/validate", contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Valid    bool      `json:"valid"`
			Problems []problem `json:"problems"`
		}
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, out.Valid, out.Problems
	}
	lineOf := func(doc, part string) int {
		for i, l := range strings.Split(doc, "\n") {
			if strings.Contains(l, part) {
				return i + 1
			}
		}
		t.Fatalf("%q not in the document", part)
		return 0
	}
	envelope := func(src string) string {
		b, _ := json.Marshal(map[string]string{"source": src})
		return string(b)
	}

	good := smoke(20)
	for _, c := range []struct {
		name, contentType, body string
		valid                   bool
		path                    string
		line                    int
	}{
		{"valid YAML", "application/yaml", good, true, "", 0},
		{"valid, in a JSON envelope", "application/json", envelope(good), true, "", 0},
		{"unknown field", "application/yaml", strings.Replace(good, "connections:", "conections:", 1), false, "spec.load.conections", lineOf(good, "connections:")},
		{"above the qps ceiling (admission)", "application/json", envelope(strings.Replace(good, "qps: 40", "qps: 900000", 1)), false, "spec.load.qps", lineOf(good, "qps: 40")},
		{"target outside the allow-list (admission)", "application/yaml", strings.Replace(good, "- demo: httpbin", "- address: 10.9.8.7:80", 1), false, "spec.services[0].endpoints[0].address", lineOf(good, "- demo: httpbin")},
		{"not YAML", "application/yaml", "apiVersion: [\n", false, "", 1},
	} {
		status, valid, problems := post(c.contentType, c.body)
		if status != 200 || valid != c.valid {
			t.Errorf("%s: status %d valid %v, want 200 and %v (%+v)", c.name, status, valid, c.valid, problems)
			continue
		}
		if c.valid {
			if len(problems) != 0 {
				t.Errorf("%s: problems %+v", c.name, problems)
			}
			continue
		}
		if len(problems) != 1 || problems[0].Severity != "error" || problems[0].Path != c.path || problems[0].Line != c.line {
			t.Errorf("%s: problems %+v, want one error at %s line %d", c.name, problems, c.path, c.line)
		}
	}
	if status, _, _ := post("image/png", good); status != http.StatusUnsupportedMediaType {
		t.Errorf("image/png: status %d, want 415", status)
	}
}
