package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/manager/environments"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/store"
)

// EnvironmentStore keeps environments.
type EnvironmentStore interface {
	ListEnvironments(ctx context.Context, p store.Page) ([]store.Environment, int64, error)
	GetEnvironment(ctx context.Context, id int64) (*store.Environment, error)
	GetEnvironmentByName(ctx context.Context, name string) (*store.Environment, error)
	CreateEnvironment(ctx context.Context, e *store.Environment) error
	UpdateEnvironment(ctx context.Context, e *store.Environment) error
	DeleteEnvironment(ctx context.Context, id int64) error
}

// EnvironmentPlanes starts, updates and stops the environments' data
// planes, and resolves the environment an experiment names.
type EnvironmentPlanes interface {
	// Check returns an error naming the field of doc that environment id
	// (0: a new one) cannot have: a listener address it cannot take, or a
	// cluster it cannot reach or lacks rights in.
	Check(ctx context.Context, id int64, doc *scenarios.Document) error
	Put(e *store.Environment) error
	// Remove stops environment id's data plane; one a run holds is
	// refused with a busy error.
	Remove(id int64) error
	// Resolve returns the named environment's baseline and version.
	Resolve(name string) (*scenarios.Document, int, error)
}

// EnvironmentViews shows the environments' data planes.
type EnvironmentViews interface {
	Status(id int64) (environments.Status, bool)
	Graph(id int64) (proxy.Graph, bool)
	AccessLog(id int64) ([]string, bool)
}

// Overlays lays Istio resources over environments for a while.
type Overlays interface {
	AddOverlay(envID int64, src []byte, ttl time.Duration) (*environments.Overlay, error)
	RemoveOverlay(envID, ovID int64) error
}

// Environments is everything the environment routes need of the data
// planes; server/manager/environments.Manager is one.
type Environments interface {
	EnvironmentPlanes
	EnvironmentViews
	Overlays
}

// environmentJSON is an environment as the API shows it: the stored
// document and its data plane.
type environmentJSON struct {
	ID          int64               `json:"id"`
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Version     int                 `json:"version"`
	Format      string              `json:"format"`
	Source      string              `json:"source,omitempty"`
	CreatedAt   time.Time           `json:"createdAt"`
	UpdatedAt   time.Time           `json:"updatedAt"`
	Warnings    []scenarios.Problem `json:"warnings,omitempty"`
	// Plane is the live data plane; nil when the server has none for it.
	Plane *environments.Status `json:"plane,omitempty"`
}

func (h *handlers) toEnvironmentJSON(e *store.Environment, withSource bool, warnings scenarios.Problems) environmentJSON {
	out := environmentJSON{ID: e.ID, Name: e.Name, Description: e.Description, Version: e.Version, Format: e.Format,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Warnings: warnings}
	if withSource {
		out.Source = e.Source
	}
	if s, ok := h.cfg.Environments.Status(e.ID); ok {
		if !withSource {
			s.Stats = nil // the list stays small; GET by id has them
		}
		out.Plane = &s
	}
	return out
}

func (h *handlers) listEnvironments(c *gin.Context) {
	writeList(c, h.log, h.cfg.EnvironmentStore.ListEnvironments,
		func(e *store.Environment) environmentJSON { return h.toEnvironmentJSON(e, false, nil) })
}

func (h *handlers) getEnvironment(c *gin.Context) {
	_, e, err := byID(c, h.cfg.EnvironmentStore.GetEnvironment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, h.toEnvironmentJSON(e, true, nil))
}

func (h *handlers) createEnvironment(c *gin.Context) {
	e, warnings, err := h.readEnvironment(c, 0)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	ctx := c.Request.Context()
	if err := h.cfg.EnvironmentStore.CreateEnvironment(ctx, e); err != nil {
		writeError(c, h.log, conflictName(err, "an environment", e.Name))
		return
	}
	if err := h.cfg.Environments.Put(e); err != nil {
		h.log.Error("api: start environment", "environment", e.Name, "err", err)
	}
	c.Header("Location", fmt.Sprintf("/api/v1/environments/%d", e.ID))
	c.JSON(http.StatusCreated, h.toEnvironmentJSON(e, true, warnings))
}

// updateEnvironment stores the next version; the data plane takes it at
// once, or after the run or overlay that holds it (plane.pendingVersion).
func (h *handlers) updateEnvironment(c *gin.Context) {
	id, _, err := byID(c, h.cfg.EnvironmentStore.GetEnvironment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	e, warnings, err := h.readEnvironment(c, id)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	e.ID = id
	ctx := c.Request.Context()
	if err := h.cfg.EnvironmentStore.UpdateEnvironment(ctx, e); err != nil {
		writeError(c, h.log, conflictName(err, "an environment", e.Name))
		return
	}
	if err := h.cfg.Environments.Put(e); err != nil {
		h.log.Error("api: update environment", "environment", e.Name, "err", err)
	}
	c.JSON(http.StatusOK, h.toEnvironmentJSON(e, true, warnings))
}

// deleteEnvironment stops the data plane, then deletes the stored
// environment; one a run holds or waits for is refused (409) and keeps
// listening.
func (h *handlers) deleteEnvironment(c *gin.Context) {
	id, e, err := byID(c, h.cfg.EnvironmentStore.GetEnvironment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	// A run waiting for the environment would lose it: refuse first.
	for _, status := range runstatus.AllActive() {
		runs, n, err := h.cfg.RunStore.ListRuns(c.Request.Context(), store.RunFilter{Environment: e.Name, Status: status, Page: store.Page{Limit: 1}})
		if err != nil {
			writeError(c, h.log, err)
			return
		}
		if n > 0 {
			writeError(c, h.log, &Error{Status: http.StatusConflict, Code: "busy", Message: fmt.Sprintf("environment %s has %d run(s) %s on it (run %d): stop them first", e.Name, n, status, runs[0].ID)})
			return
		}
	}
	if err := h.cfg.Environments.Remove(id); err != nil {
		writeError(c, h.log, err)
		return
	}
	if err := h.cfg.EnvironmentStore.DeleteEnvironment(c.Request.Context(), id); err != nil {
		if perr := h.cfg.Environments.Put(e); perr != nil {
			h.log.Error("api: restart environment after a refused delete", "environment", e.Name, "err", perr)
		}
		writeError(c, h.log, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// readEnvironment reads, parses and admits the environment in the body,
// and checks that environment id (0: a new one) can listen on its
// addresses.
func (h *handlers) readEnvironment(c *gin.Context, id int64) (*store.Environment, scenarios.Problems, error) {
	src, format, err := readDocument(c, "an Environment document")
	if err != nil {
		return nil, nil, err
	}
	doc, err := h.checkEnvironment(c.Request.Context(), id, src)
	if err != nil {
		return nil, nil, err
	}
	e := &store.Environment{Name: doc.Name(), Description: doc.Environment.Metadata.Description, Source: string(src), Format: format}
	return e, doc.Warnings, nil
}

// checkEnvironment parses an environment's document and applies what
// saving it would: the safety policy, then the listen (or cluster) check.
func (h *handlers) checkEnvironment(ctx context.Context, id int64, src []byte) (*scenarios.Document, error) {
	doc, err := scenarios.ParseEnvironment(src)
	if err != nil {
		return nil, err
	}
	if h.cfg.AdmitEnvironment != nil {
		if err := h.cfg.AdmitEnvironment(doc); err != nil {
			return nil, err
		}
	}
	if err := h.cfg.Environments.Check(ctx, id, doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// environmentGraph is the service graph of the traffic an environment
// carries.
func (h *handlers) environmentGraph(c *gin.Context) {
	id, _, err := byID(c, h.cfg.EnvironmentStore.GetEnvironment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	g, ok := h.cfg.Environments.Graph(id)
	if !ok {
		writeError(c, h.log, &Error{Status: http.StatusConflict, Message: "the environment is not listening: see its plane.error"})
		return
	}
	if g.Edges == nil {
		g.Edges = []proxy.Edge{}
	}
	c.JSON(http.StatusOK, g)
}

// environmentAccessLog is the last lines of the environment's access log,
// in Istio's TEXT format, oldest first.
func (h *handlers) environmentAccessLog(c *gin.Context) {
	id, _, err := byID(c, h.cfg.EnvironmentStore.GetEnvironment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	lines, _ := h.cfg.Environments.AccessLog(id)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(b.String()))
}

// listEnvironmentRuns lists the runs on an environment, newest first.
func (h *handlers) listEnvironmentRuns(c *gin.Context) {
	_, e, err := byID(c, h.cfg.EnvironmentStore.GetEnvironment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	writeList(c, h.log, func(ctx context.Context, page store.Page) ([]store.Run, int64, error) {
		return h.cfg.RunStore.ListRuns(ctx, store.RunFilter{Page: page, Environment: e.Name})
	}, func(r *store.Run) runJSON { return toRunJSON(r, false) })
}

// overlayRequest is the JSON body of POST …/overlays.
type overlayRequest struct {
	// TTL is how long the overlay stays ("30s").
	TTL string `json:"ttl"`
	// Source is the Istio resources, as YAML or JSON text.
	Source string `json:"source"`
}

// addOverlay lays Istio resources over the environment's baseline for a
// TTL: JSON {"ttl": "30s", "source": "<YAML>"}, or the YAML itself with
// ?ttl=30s.
func (h *handlers) addOverlay(c *gin.Context) {
	id, _, err := byID(c, h.cfg.EnvironmentStore.GetEnvironment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	src, ttlText, err := readOverlay(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if strings.TrimSpace(ttlText) == "" {
		writeError(c, h.log, &Error{Status: http.StatusUnprocessableEntity, Message: "ttl is required: how long the overlay stays, such as 30s (it reverts then)", Field: "ttl"})
		return
	}
	ttl, err := time.ParseDuration(ttlText)
	if err != nil {
		writeError(c, h.log, &Error{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("ttl must be a duration such as 30s, not %q", ttlText), Field: "ttl"})
		return
	}
	ov, err := h.cfg.Environments.AddOverlay(id, src, ttl)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.Header("Location", fmt.Sprintf("/api/v1/environments/%d/overlays/%d", id, ov.ID))
	c.JSON(http.StatusCreated, ov)
}

func readOverlay(c *gin.Context) (src []byte, ttl string, err error) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return nil, "", err
	}
	mediaType, _, _ := mime.ParseMediaType(c.ContentType())
	switch {
	case mediaType == "application/json":
		var req overlayRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, "", &Error{Status: http.StatusBadRequest, Message: `body must be JSON like {"ttl": "30s", "source": "<Istio resources as YAML>"}: ` + err.Error()}
		}
		return []byte(req.Source), req.TTL, nil
	case readsAsYAML(mediaType):
		return body, c.Query("ttl"), nil
	}
	return nil, "", unsupportedMediaType(mediaType)
}

// listOverlays lists the overlay in force on the environment (none or one).
func (h *handlers) listOverlays(c *gin.Context) {
	id, _, err := byID(c, h.cfg.EnvironmentStore.GetEnvironment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	items := []*environments.Overlay{}
	if s, ok := h.cfg.Environments.Status(id); ok && s.Holder != nil && s.Holder.Overlay != nil {
		items = append(items, s.Holder.Overlay)
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (h *handlers) deleteOverlay(c *gin.Context) {
	id, _, err := byID(c, h.cfg.EnvironmentStore.GetEnvironment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	oid, err := idParam(c, "oid")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if err := h.cfg.Environments.RemoveOverlay(id, oid); err != nil {
		if errors.Is(err, errkind.NotFound) {
			err = &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no overlay %d is in force on this environment (it ended, or never was)", oid)}
		}
		writeError(c, h.log, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// parseExperiment parses an experiment as saving or running it would: one
// that names an environment is laid over that environment's baseline.
func (h *handlers) parseExperiment(src []byte) (*scenarios.Document, error) {
	doc, err := scenarios.Parse(src)
	if err != nil || doc.Experiment.Spec.Environment == "" || h.cfg.Environments == nil {
		return doc, err
	}
	base, err := h.environmentOf(doc)
	if err != nil {
		return nil, err
	}
	return scenarios.ParseOn(src, base)
}

// environmentOf resolves the environment an experiment names; an unknown
// one is an error naming spec.environment.
func (h *handlers) environmentOf(doc *scenarios.Document) (*scenarios.Document, error) {
	name := doc.Experiment.Spec.Environment
	base, _, err := h.cfg.Environments.Resolve(name)
	if errors.Is(err, errkind.NotFound) {
		return nil, &Error{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("spec.environment: names no stored environment: %q", name), Field: "spec.environment"}
	}
	return base, err
}
