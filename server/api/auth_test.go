package api

import (
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	const a, b = "0123456789abcdef-a", "0123456789abcdef-b"
	for _, tc := range []struct {
		name, text string
		want       []Token
		err        string
	}{
		{name: "a file with comments and blank lines",
			text: "# name role token\nalice admin " + a + "\n\n  bob   viewer  " + b + "  \n",
			want: []Token{{"alice", RoleAdmin, a}, {"bob", RoleViewer, b}}},
		{name: "an environment variable, comma-separated",
			text: "ci operator " + a + ", bob viewer " + b,
			want: []Token{{"ci", RoleOperator, a}, {"bob", RoleViewer, b}}},
		{name: "a comment may hold commas", text: "# a, b, c\nci operator " + a, want: []Token{{"ci", RoleOperator, a}}},
		{name: "nothing", text: "\n# none yet\n"},
		{name: "a missing field", text: "alice " + a, err: `want "name role token"`},
		{name: "a token with a space is four fields", text: "alice admin 01234567 89abcdef", err: "4 fields"},
		{name: "an unknown role", text: "alice root " + a, err: `unknown role "root"`},
		{name: "a short token", text: "alice admin s3cret", err: "at least 16"},
		{name: "a name twice", text: "alice admin " + a + "\nalice viewer " + b, err: "given twice"},
		{name: "a secret twice would make the name ambiguous", text: "alice admin " + a + "\nbob viewer " + a, err: "same secret"},
		{name: "anonymous is what the log calls callers without tokens", text: "anonymous admin " + a, err: "reserved"},
		{name: "a name that is not a name", text: "al/ice admin " + a, err: "token name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTokens(tc.text)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("token %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestTokenSetMatchesOnlyAWholeSecret(t *testing.T) {
	s := newTokenSet([]Token{{"alice", RoleAdmin, "0123456789abcdef-a"}, {"bob", RoleViewer, "0123456789abcdef-b"}})
	if tok, ok := s.match("0123456789abcdef-b"); !ok || tok.Name != "bob" {
		t.Errorf("bob's secret matched %+v, %v", tok, ok)
	}
	for _, wrong := range []string{"", "0123456789abcdef-", "0123456789abcdef-a ", "0123456789ABCDEF-A"} {
		if tok, ok := s.match(wrong); ok {
			t.Errorf("%q matched %s", wrong, tok.Name)
		}
	}
}

func TestRequiredRoles(t *testing.T) {
	for _, tc := range []struct {
		method, route string
		want          Role
	}{
		{"GET", "/api/v1/experiments", RoleViewer},
		{"GET", "/metrics", RoleViewer},
		{"POST", "/api/v1/validate", RoleViewer},
		{"GET", "/api/v1/audit", RoleOperator},
		{"POST", "/api/v1/experiments/:id/runs", RoleOperator},
		{"POST", "/api/v1/safety/lever", RoleOperator},
		{"DELETE", "/api/v1/environments/:id/overlays/:oid", RoleOperator},
		{"POST", "/api/v1/experiments", RoleAdmin},
		{"DELETE", "/api/v1/gamedays/:id", RoleAdmin},
		{"PUT", "/api/v1/environments/:id", RoleAdmin},
		// A write route nobody named here yet is an admin's.
		{"POST", "/api/v1/something-new", RoleAdmin},
	} {
		if got := requiredRole(tc.method, tc.route); got != tc.want {
			t.Errorf("%s %s needs %s, want %s", tc.method, tc.route, got, tc.want)
		}
	}
}
