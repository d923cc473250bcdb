package client

import (
	"context"
	"net/url"
	"time"
)

// Experiment is a stored experiment.
type Experiment struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Version is 1 when created and grows by one on every update; each run
	// records the version it ran.
	Version int `json:"version"`
	// Format is yaml or json: how Source was sent.
	Format string `json:"format"`
	// Source is the document as submitted, verbatim. Lists leave it out;
	// Get, Create and Update have it.
	Source    string    `json:"source,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Warnings are the problems of an accepted document (Create and Update
	// only).
	Warnings []Problem `json:"warnings,omitempty"`
	// Schedule is spec.schedule with its next fires; nil when there is
	// none.
	Schedule *Schedule `json:"schedule,omitempty"`
}

// ExperimentsService stores experiments: /api/v1/experiments. Runs of
// them start with RunsService.Start. Create stores version 1 from a YAML
// stream or a JSON document: a name taken is a 409 with Field
// metadata.name, a bad document a 422 whose Problems list every problem.
// Update makes the next version; Delete leaves the experiment's runs.
type ExperimentsService struct {
	Documents[Experiment]
	c *Client
}

// Fires reads a page of the fire history of the experiment's schedule,
// latest scheduled time first.
func (s *ExperimentsService) Fires(ctx context.Context, id int64, opts ListOptions) (*Page[Fire], error) {
	return s.c.fires(ctx, idPath("/api/v1/experiments/%d/fires", id), opts)
}

// Calendar lays the experiment's schedule out over [from, to), at most 31
// days: a zero from means now, a zero to a week after from.
func (s *ExperimentsService) Calendar(ctx context.Context, id int64, from, to time.Time) (*Calendar, error) {
	return s.c.calendar(ctx, idPath("/api/v1/experiments/%d/calendar", id), from, to)
}

// ExportOptions name where an exported experiment goes in a cluster.
type ExportOptions struct {
	// Namespace the resources and the Job go to; empty means default.
	Namespace string
	// Domain is the cluster's DNS domain for the Job's target; empty
	// means cluster.local.
	Domain string
}

// Export returns the experiment as a real mesh takes it: its Istio
// resources in a namespace and a Kubernetes Job running fortio with its
// load, one YAML stream for kubectl apply -f -.
func (s *ExperimentsService) Export(ctx context.Context, id int64, opts ExportOptions) ([]byte, error) {
	q := url.Values{}
	if opts.Namespace != "" {
		q.Set("namespace", opts.Namespace)
	}
	if opts.Domain != "" {
		q.Set("domain", opts.Domain)
	}
	return s.c.getBytes(ctx, idPath("/api/v1/experiments/%d/export", id), q)
}
