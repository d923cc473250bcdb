package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/server/store"
)

// AuditStore keeps the audit log.
type AuditStore interface {
	RecordAudit(ctx context.Context, e *store.AuditEntry, keep int) error
	ListAudit(ctx context.Context, p store.Page) ([]store.AuditEntry, int64, error)
}

// auditKeep bounds the audit log: the oldest entries beyond it are
// deleted as new ones come.
const auditKeep = 100_000

// auditDetailKey keeps, in the gin context, what a handler adds to its
// write's audit entry (auditDetail).
const auditDetailKey = "faultline.auditDetail"

// auditDetail adds detail to the audit entry of the request's write.
func auditDetail(c *gin.Context, detail string) { c.Set(auditDetailKey, detail) }

// auditJSON is an audit entry as the API shows it.
type auditJSON struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Role      string    `json:"role"`
	Method    string    `json:"method"`
	Route     string    `json:"route"`
	Path      string    `json:"path"`
	Object    string    `json:"object,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Remote    string    `json:"remote"`
	UserAgent string    `json:"userAgent,omitempty"`
	Status    int       `json:"status"`
}

func toAuditJSON(e *store.AuditEntry) auditJSON {
	return auditJSON{ID: e.ID, At: e.At, Actor: e.Actor, Role: e.Role, Method: e.Method, Route: e.Route, Path: e.Path,
		Object: e.Object, Detail: e.Detail, Remote: e.Remote, UserAgent: e.UserAgent, Status: e.Status}
}

func (h *handlers) listAudit(c *gin.Context) {
	writeList(c, h.log, h.cfg.Audit.ListAudit, toAuditJSON)
}

// audit records every write an authenticated caller makes, whatever its
// answer (a refusal for want of a role included), once it is answered.
// Reads, and checking a document (POST /validate), are not recorded.
func (h *handlers) audit(c *gin.Context) {
	if h.cfg.Audit == nil || isRead(c.Request.Method) || c.FullPath() == "/api/v1/validate" {
		c.Next()
		return
	}
	at := time.Now()
	c.Next()
	p := principalOf(c)
	e := &store.AuditEntry{At: at, Actor: p.name, Role: p.role.String(), Method: c.Request.Method,
		Route: openAPIRoute(c.FullPath()), Path: c.Request.URL.Path, Object: auditObject(c), Detail: c.GetString(auditDetailKey),
		Remote: c.Request.RemoteAddr, UserAgent: c.Request.UserAgent(), Status: c.Writer.Status()}
	// The write is done: record it even if the client has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 10*time.Second)
	defer cancel()
	if err := h.cfg.Audit.RecordAudit(ctx, e, auditKeep); err != nil {
		h.log.Error("api: audit entry not recorded", "actor", e.Actor, "method", e.Method, "path", e.Path, "status", e.Status, "err", err)
	}
}

// auditObject names what the write acted on, under /api/v1/: what it made
// when the answer has a Location ("runs/12"), or else the request path up
// to its last ID ("environments/1/overlays/3" for DELETE …/overlays/3,
// "runs/5" for POST /runs/5/stop, "safety/lever").
func auditObject(c *gin.Context) string {
	if loc := c.Writer.Header().Get("Location"); loc != "" && c.Writer.Status() < http.StatusBadRequest {
		return strings.TrimPrefix(loc, "/api/v1/")
	}
	route := strings.Split(strings.TrimPrefix(c.FullPath(), "/api/v1/"), "/")
	path := strings.Split(strings.TrimPrefix(c.Request.URL.Path, "/api/v1/"), "/")
	if len(route) != len(path) {
		return ""
	}
	end := len(path)
	for i := len(route) - 1; i >= 0; i-- {
		if strings.HasPrefix(route[i], ":") {
			end = i + 1
			break
		}
	}
	return strings.Join(path[:end], "/")
}

// openAPIRoute spells a gin route as openapi.json does: /runs/{id}.
func openAPIRoute(route string) string {
	parts := strings.Split(route, "/")
	for i, p := range parts {
		if name, ok := strings.CutPrefix(p, ":"); ok {
			parts[i] = "{" + name + "}"
		}
	}
	return strings.Join(parts, "/")
}
