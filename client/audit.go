package client

import (
	"context"
	"time"
)

// AuditEntry is one write to the API: who, what, when, from where, and
// its answer.
type AuditEntry struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// Actor is the token's name, or anonymous on a server without tokens;
	// Role is its role: viewer, operator or admin.
	Actor  string `json:"actor"`
	Role   string `json:"role"`
	Method string `json:"method"`
	// Route is the route as openapi.json spells it
	// (/api/v1/experiments/{id}); Path the path requested.
	Route string `json:"route"`
	Path  string `json:"path"`
	// Object is what the write made or acted on ("runs/12").
	Object string `json:"object,omitempty"`
	// Detail says more where the route has more to say (the lever's
	// reason).
	Detail    string `json:"detail,omitempty"`
	Remote    string `json:"remote"`
	UserAgent string `json:"userAgent,omitempty"`
	// Status is the answer's HTTP status.
	Status int `json:"status"`
}

// AuditService reads the audit log: /api/v1/audit (operators and
// admins).
type AuditService struct{ c *Client }

// List reads a page of the audit log, newest first.
func (s *AuditService) List(ctx context.Context, opts ListOptions) (*Page[AuditEntry], error) {
	var p Page[AuditEntry]
	if err := s.c.getJSON(ctx, "/api/v1/audit", opts.values(), &p); err != nil {
		return nil, err
	}
	return &p, nil
}
