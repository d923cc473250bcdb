package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// ApplyOutcome says what an Apply did.
type ApplyOutcome string

// Outcomes of Apply.
const (
	// Created: no document of the name was stored; now one is, version 1.
	Created ApplyOutcome = "created"
	// Updated: the stored document of the name had another source; it has
	// the new one, one version up.
	Updated ApplyOutcome = "updated"
	// Unchanged: the stored document has this very source; nothing was
	// written.
	Unchanged ApplyOutcome = "unchanged"
)

// Applied is what Client.Apply did to a document of any stored kind.
type Applied struct {
	// Kind is KindExperiment, KindGameDay or KindEnvironment.
	Kind    string
	ID      int64
	Name    string
	Version int
	Outcome ApplyOutcome
}

// Apply creates or updates, by metadata.name, the Experiment, GameDay or
// Environment that src holds (see Identify), as `kubectl apply` does.
func (c *Client) Apply(ctx context.Context, src []byte) (*Applied, error) {
	kind, _, err := Identify(src)
	if err != nil {
		return nil, err
	}
	out := &Applied{Kind: kind}
	switch kind {
	case KindExperiment:
		var e *Experiment
		e, out.Outcome, err = c.Experiments.Apply(ctx, src)
		if err == nil {
			out.ID, out.Name, out.Version = e.ID, e.Name, e.Version
		}
	case KindGameDay:
		var g *GameDay
		g, out.Outcome, err = c.GameDays.Apply(ctx, src)
		if err == nil {
			out.ID, out.Name, out.Version = g.ID, g.Name, g.Version
		}
	default:
		var e *Environment
		e, out.Outcome, err = c.Environments.Apply(ctx, src)
		if err == nil {
			out.ID, out.Name, out.Version = e.ID, e.Name, e.Version
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Documents are the routes of one stored kind of document (experiments,
// game days or environments) under its path: list, get, create, update,
// delete and apply. The kind's service embeds them.
type Documents[T any] struct {
	c    *Client
	kind string // KindExperiment, KindGameDay or KindEnvironment
	path string
	// head reads a stored document's id, name and source.
	head func(*T) (id int64, name, source string)
}

func (d Documents[T]) idPath(id int64) string { return d.path + "/" + strconv.FormatInt(id, 10) }

// List reads a page of the documents, without their sources.
func (d Documents[T]) List(ctx context.Context, opts ListOptions) (*Page[T], error) {
	var p Page[T]
	if err := d.c.getJSON(ctx, d.path, opts.values(), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Get reads document id with its source.
func (d Documents[T]) Get(ctx context.Context, id int64) (*T, error) {
	var v T
	if err := d.c.getJSON(ctx, d.idPath(id), nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Create stores a new document (version 1) from its YAML stream or its
// JSON form. A name taken is a 409 with Field metadata.name; a bad
// document a 422 whose Problems list every problem.
func (d Documents[T]) Create(ctx context.Context, src []byte) (*T, error) {
	var v T
	if err := d.c.sendDocument(ctx, http.MethodPost, d.path, src, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Update stores document id's next version.
func (d Documents[T]) Update(ctx context.Context, id int64, src []byte) (*T, error) {
	var v T
	if err := d.c.sendDocument(ctx, http.MethodPut, d.idPath(id), src, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Delete deletes document id.
func (d Documents[T]) Delete(ctx context.Context, id int64) error {
	return d.c.do(ctx, request{method: http.MethodDelete, path: d.idPath(id)}, nil)
}

// Apply creates the document src describes, or updates the stored one of
// the same metadata.name, as kubectl apply does: a source equal to the
// stored one is left alone (Unchanged, no new version). The name is read
// from src by Identify. A create that loses a race with another (409 at
// metadata.name) is tried once more as an update.
func (ops Documents[T]) Apply(ctx context.Context, src []byte) (*T, ApplyOutcome, error) {
	got, name, err := Identify(src)
	if err != nil {
		return nil, "", err
	}
	if got != ops.kind {
		return nil, "", fmt.Errorf("faultline: apply: the document is a %s, not a %s", got, ops.kind)
	}
	for attempt := 0; ; attempt++ {
		again := attempt == 0
		id, err := findByName(ctx, ops, name)
		if err != nil {
			return nil, "", err
		}
		if id == 0 {
			v, err := ops.Create(ctx, src)
			var apiErr *Error
			if again && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict && apiErr.Field == "metadata.name" {
				continue
			}
			if err != nil {
				return nil, "", err
			}
			return v, Created, nil
		}
		cur, err := ops.Get(ctx, id)
		if again && IsNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, "", err
		}
		if _, _, source := ops.head(cur); source == storedSource(src) {
			return cur, Unchanged, nil
		}
		v, err := ops.Update(ctx, id, src)
		if err != nil {
			return nil, "", err
		}
		return v, Updated, nil
	}
}

// findByName returns the id of the stored document named name; 0 when
// there is none.
func findByName[T any](ctx context.Context, ops Documents[T], name string) (int64, error) {
	opts := ListOptions{Limit: maxPage}
	for {
		page, err := ops.List(ctx, opts)
		if err != nil {
			return 0, err
		}
		for i := range page.Items {
			if id, n, _ := ops.head(&page.Items[i]); n == name {
				return id, nil
			}
		}
		var more bool
		if opts, more = page.Next(); !more {
			return 0, nil
		}
	}
}

// storedSource is the source the server keeps for a body: the text of a
// {"source": "…"} envelope, else the body itself.
func storedSource(src []byte) string {
	if json.Valid(src) {
		var envelope struct {
			Source     *string `json:"source"`
			APIVersion string  `json:"apiVersion"`
		}
		if json.Unmarshal(src, &envelope) == nil && envelope.Source != nil && envelope.APIVersion == "" {
			return *envelope.Source
		}
	}
	return string(src)
}
