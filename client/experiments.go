package client

import (
	"context"
	"net/http"
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
// them start with RunsService.Start.
type ExperimentsService struct{ c *Client }

// List reads a page of the experiments, without their sources.
func (s *ExperimentsService) List(ctx context.Context, opts ListOptions) (*Page[Experiment], error) {
	var p Page[Experiment]
	if err := s.c.getJSON(ctx, "/api/v1/experiments", opts.values(), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Get reads an experiment with its source.
func (s *ExperimentsService) Get(ctx context.Context, id int64) (*Experiment, error) {
	var e Experiment
	if err := s.c.getJSON(ctx, idPath("/api/v1/experiments/%d", id), nil, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Create stores a new experiment (version 1) from its YAML stream or its
// JSON document. A name taken is a 409 with Field metadata.name; a bad
// document a 422 whose Problems list every problem.
func (s *ExperimentsService) Create(ctx context.Context, src []byte) (*Experiment, error) {
	var e Experiment
	if err := s.c.sendDocument(ctx, http.MethodPost, "/api/v1/experiments", src, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Update replaces experiment id's document; its version grows by one.
func (s *ExperimentsService) Update(ctx context.Context, id int64, src []byte) (*Experiment, error) {
	var e Experiment
	if err := s.c.sendDocument(ctx, http.MethodPut, idPath("/api/v1/experiments/%d", id), src, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Delete deletes an experiment; its runs stay.
func (s *ExperimentsService) Delete(ctx context.Context, id int64) error {
	return s.c.do(ctx, request{method: http.MethodDelete, path: idPath("/api/v1/experiments/%d", id)}, nil)
}

// Apply creates the experiment src describes, or updates the stored one
// of the same metadata.name, as kubectl apply does: a source equal to the
// stored one is left alone (Unchanged, no new version). The name is read
// from src by Identify.
func (s *ExperimentsService) Apply(ctx context.Context, src []byte) (*Experiment, ApplyOutcome, error) {
	return apply(ctx, KindExperiment, src, documentOps[Experiment]{
		list: s.List, get: s.Get, create: s.Create, update: s.Update,
		head: func(e *Experiment) (int64, string, string) { return e.ID, e.Name, e.Source },
	})
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
