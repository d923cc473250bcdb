package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"
)

// Role is what a token may do. Each role may do what the roles below it
// may.
type Role int

// The roles, as Kubernetes' view, edit and admin cluster roles go.
const (
	// RoleViewer reads: experiments, runs and their reports, game days,
	// environments, the lever, /metrics.
	RoleViewer Role = iota + 1
	// RoleOperator also starts, reruns and stops runs and game-day runs,
	// lays and removes overlays, moves the safety lever, and reads the
	// audit log.
	RoleOperator
	// RoleAdmin may do everything: create, update and delete experiments,
	// game days and environments.
	RoleAdmin
)

// String returns the role's name as a tokens file spells it.
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleAdmin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole reads a role's name: viewer, operator or admin.
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{RoleViewer, RoleOperator, RoleAdmin} {
		if s == r.String() {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown role %q: want viewer, operator or admin", s)
}

// MinTokenBytes is the shortest token a server accepts: 16 bytes, so
// that guessing one is hopeless (openssl rand -hex 16 makes 32).
const MinTokenBytes = 16

// Token is an API bearer token.
type Token struct {
	// Name says whose token it is: the audit log records it as who made a
	// write, and the safety lever as who moved it.
	Name string
	Role Role
	// Secret is what the client sends as "Authorization: Bearer <Secret>".
	Secret string
}

// tokenNameRE is what a token's name may look like: a user or service
// name, no spaces.
var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// anonymous names the caller on a server without tokens.
const anonymous = "anonymous"

// ParseTokens reads tokens, one "name role token" a line, or several on a
// line separated by commas (as an environment variable holds them); blank
// lines and lines starting with # are skipped. A token may not contain
// spaces or commas. The tokens are checked as CheckTokens does.
func ParseTokens(text string) ([]Token, error) {
	var tokens []Token
	for n, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for entry := range strings.SplitSeq(line, ",") {
			fields := strings.Fields(entry)
			if len(fields) == 0 {
				continue
			}
			if len(fields) != 3 {
				return nil, fmt.Errorf("line %d: want \"name role token\", got %d fields", n+1, len(fields))
			}
			role, err := ParseRole(fields[1])
			if err != nil {
				return nil, fmt.Errorf("line %d: token %s: %w", n+1, fields[0], err)
			}
			tokens = append(tokens, Token{Name: fields[0], Role: role, Secret: fields[2]})
		}
	}
	if err := CheckTokens(tokens); err != nil {
		return nil, err
	}
	return tokens, nil
}

// CheckTokens refuses tokens a server must not start with: a name that is
// empty, has spaces, is "anonymous" or is taken twice; an unknown role; a
// secret shorter than MinTokenBytes or given twice.
func CheckTokens(tokens []Token) error {
	names := make(map[string]bool, len(tokens))
	secrets := make(map[string]string, len(tokens))
	for _, t := range tokens {
		switch {
		case !tokenNameRE.MatchString(t.Name):
			return fmt.Errorf("token name %q: want letters, digits, '.', '_', '@' or '-' (at most 64)", t.Name)
		case t.Name == anonymous:
			return fmt.Errorf("token name %q is reserved for callers of a server without tokens", t.Name)
		case names[t.Name]:
			return fmt.Errorf("token name %q is given twice", t.Name)
		case t.Role < RoleViewer || t.Role > RoleAdmin:
			return fmt.Errorf("token %s: unknown role %d", t.Name, int(t.Role))
		case len(t.Secret) < MinTokenBytes:
			return fmt.Errorf("token %s is %d bytes long, want at least %d (make one with: openssl rand -hex 16)", t.Name, len(t.Secret), MinTokenBytes)
		case secrets[t.Secret] != "":
			return fmt.Errorf("tokens %s and %s are the same secret", secrets[t.Secret], t.Name)
		}
		names[t.Name], secrets[t.Secret] = true, t.Name
	}
	return nil
}

// principal is who made a request: a token's name and role, or anonymous
// (with every right) on a server without tokens.
type principal struct {
	name string
	role Role
}

// principalKey keeps the request's principal in the gin context.
const principalKey = "faultline.principal"

// principalOf returns who made the request; the authenticate middleware
// set it.
func principalOf(c *gin.Context) principal {
	p, _ := c.Value(principalKey).(principal)
	return p
}

// tokenSet matches presented bearer tokens against the configured ones.
type tokenSet struct {
	tokens []Token
	sums   [][sha256.Size]byte
}

func newTokenSet(tokens []Token) *tokenSet {
	s := &tokenSet{tokens: tokens}
	for _, t := range tokens {
		s.sums = append(s.sums, sha256.Sum256([]byte(t.Secret)))
	}
	return s
}

// match returns the token whose secret is presented. It compares the
// secrets' digests in constant time and looks at every token, so that
// neither the time taken nor the order says which came close.
func (s *tokenSet) match(presented string) (Token, bool) {
	sum := sha256.Sum256([]byte(presented))
	found := -1
	for i := range s.sums {
		if subtle.ConstantTimeCompare(sum[:], s.sums[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Token{}, false
	}
	return s.tokens[found], true
}

// authenticate finds who makes the request: the token in the Authorization
// header (401 without a known one), or anonymous on a server without
// tokens. It reads nothing of the body.
func (h *handlers) authenticate() gin.HandlerFunc {
	if len(h.cfg.Tokens) == 0 {
		return func(c *gin.Context) {
			c.Set(principalKey, principal{name: anonymous, role: RoleAdmin})
			c.Next()
		}
	}
	set := newTokenSet(h.cfg.Tokens)
	return func(c *gin.Context) {
		secret, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		t, known := set.match(secret)
		if !ok || !known {
			c.Header("WWW-Authenticate", `Bearer realm="faultline"`)
			h.refuse(c, &Error{Status: http.StatusUnauthorized, Message: "missing or wrong bearer token", Field: "Authorization"})
			return
		}
		c.Set(principalKey, principal{name: t.Name, role: t.Role})
		c.Next()
	}
}

// authorize refuses (403) a request whose principal's role is below the
// one its route needs.
func (h *handlers) authorize() gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principalOf(c)
		need := requiredRole(c.Request.Method, c.FullPath())
		if p.role < need {
			h.refuse(c, &Error{Status: http.StatusForbidden, Code: "role",
				Message: fmt.Sprintf("%s %s needs the %s role; token %q has the %s role", c.Request.Method, c.FullPath(), need, p.name, p.role)})
			return
		}
		c.Next()
	}
}

// requiredRole is the role a route needs: reads need a viewer, the
// operator's writes (and the audit log) an operator, and every other
// write an admin, so that a new write route is an admin's until it is
// named here.
func requiredRole(method, route string) Role {
	switch method + " " + route {
	case "GET /api/v1/audit":
		return RoleOperator
	case "POST /api/v1/validate": // checks a document, stores nothing
		return RoleViewer
	case "POST /api/v1/experiments/:id/runs", "POST /api/v1/runs/:id/stop", "POST /api/v1/runs/:id/rerun",
		"POST /api/v1/gamedays/:id/runs", "POST /api/v1/gameday-runs/:rid/stop",
		"POST /api/v1/environments/:id/overlays", "DELETE /api/v1/environments/:id/overlays/:oid",
		"POST /api/v1/safety/lever":
		return RoleOperator
	}
	if isRead(method) {
		return RoleViewer
	}
	return RoleAdmin
}

// isRead reports whether method only reads.
func isRead(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}
