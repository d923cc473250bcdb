package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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

// documentOps are the routes of one stored kind that apply uses.
type documentOps[T any] struct {
	list   func(context.Context, ListOptions) (*Page[T], error)
	get    func(context.Context, int64) (*T, error)
	create func(context.Context, []byte) (*T, error)
	update func(context.Context, int64, []byte) (*T, error)
	// head reads a stored document's id, name and source.
	head func(*T) (id int64, name, source string)
}

// apply creates the document of kind in src, or updates the stored one of
// its name unless its source is src already. A create that loses a race
// with another (409 at metadata.name) is tried once more as an update.
func apply[T any](ctx context.Context, kind string, src []byte, ops documentOps[T]) (*T, ApplyOutcome, error) {
	got, name, err := Identify(src)
	if err != nil {
		return nil, "", err
	}
	if got != kind {
		return nil, "", fmt.Errorf("faultline: apply: the document is a %s, not a %s", got, kind)
	}
	for attempt := 0; ; attempt++ {
		again := attempt == 0
		id, err := findByName(ctx, ops, name)
		if err != nil {
			return nil, "", err
		}
		if id == 0 {
			v, err := ops.create(ctx, src)
			var apiErr *Error
			if again && errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict && apiErr.Field == "metadata.name" {
				continue
			}
			if err != nil {
				return nil, "", err
			}
			return v, Created, nil
		}
		cur, err := ops.get(ctx, id)
		if again && IsNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, "", err
		}
		if _, _, source := ops.head(cur); source == storedSource(src) {
			return cur, Unchanged, nil
		}
		v, err := ops.update(ctx, id, src)
		if err != nil {
			return nil, "", err
		}
		return v, Updated, nil
	}
}

// findByName returns the id of the stored document named name; 0 when
// there is none.
func findByName[T any](ctx context.Context, ops documentOps[T], name string) (int64, error) {
	opts := ListOptions{Limit: maxPage}
	for {
		page, err := ops.list(ctx, opts)
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
