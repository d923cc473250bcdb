package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/store"
)

// experimentJSON is an experiment as the API shows it. Source is the
// document as submitted; lists leave it out (GET by id has it).
type experimentJSON struct {
	ID          int64               `json:"id"`
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Version     int                 `json:"version"`
	Format      string              `json:"format"`
	Source      string              `json:"source,omitempty"`
	CreatedAt   time.Time           `json:"createdAt"`
	UpdatedAt   time.Time           `json:"updatedAt"`
	Warnings    []scenarios.Problem `json:"warnings,omitempty"`
	Schedule    *scheduleJSON       `json:"schedule,omitempty"`
}

func (h *handlers) toExperimentJSON(e *store.Experiment, warnings scenarios.Problems) experimentJSON {
	return experimentJSON{ID: e.ID, Name: e.Name, Description: e.Description, Version: e.Version, Format: e.Format,
		Source: e.Source, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Warnings: warnings,
		Schedule: h.scheduleJSONOf(experimentSchedule(e))}
}

// listExperiments lists experiments without their sources: a list of
// large documents would be as large as all of them.
func (h *handlers) listExperiments(c *gin.Context) {
	writeList(c, h.log, h.cfg.Experiments.ListExperiments,
		func(e *store.Experiment) experimentJSON { return withoutSource(h.toExperimentJSON(e, nil)) })
}

func withoutSource(e experimentJSON) experimentJSON {
	e.Source = ""
	return e
}

func (h *handlers) getExperiment(c *gin.Context) {
	_, e, err := byID(c, h.cfg.Experiments.GetExperiment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, h.toExperimentJSON(e, nil))
}

func (h *handlers) createExperiment(c *gin.Context) {
	e, warnings, err := h.readExperiment(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if err := h.cfg.Experiments.CreateExperiment(c.Request.Context(), e); err != nil {
		writeError(c, h.log, conflictName(err, "an experiment", e.Name))
		return
	}
	h.experimentsChanged()
	c.Header("Location", fmt.Sprintf("/api/v1/experiments/%d", e.ID))
	c.JSON(http.StatusCreated, h.toExperimentJSON(e, warnings))
}

func (h *handlers) updateExperiment(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	e, warnings, err := h.readExperiment(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	e.ID = id
	if err := h.cfg.Experiments.UpdateExperiment(c.Request.Context(), e); err != nil {
		writeError(c, h.log, conflictName(err, "an experiment", e.Name))
		return
	}
	h.experimentsChanged()
	// Read back for the timestamps the store set.
	if stored, err := h.cfg.Experiments.GetExperiment(c.Request.Context(), id); err == nil {
		e = stored
	}
	c.JSON(http.StatusOK, h.toExperimentJSON(e, warnings))
}

func (h *handlers) deleteExperiment(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if err := h.cfg.Experiments.DeleteExperiment(c.Request.Context(), id); err != nil {
		writeError(c, h.log, err)
		return
	}
	h.experimentsChanged()
	c.Status(http.StatusNoContent)
}

// readExperiment reads, parses and admits the document in the body: YAML
// (application/yaml), or JSON — the document itself, or {"source": "…"}
// carrying the YAML text, which keeps it verbatim.
func (h *handlers) readExperiment(c *gin.Context) (*store.Experiment, scenarios.Problems, error) {
	src, format, err := readDocument(c, "an experiment document")
	if err != nil {
		return nil, nil, err
	}
	doc, err := h.parseExperiment(src)
	if err != nil {
		return nil, nil, err
	}
	if h.cfg.Admit != nil {
		if err := h.cfg.Admit(doc); err != nil {
			return nil, nil, err
		}
	}
	e := &store.Experiment{Name: doc.Name(), Description: doc.Experiment.Metadata.Description, Source: string(src), Format: format}
	return e, doc.Warnings, nil
}

// readDocument reads a document from the body: YAML (application/yaml), or
// JSON — the document itself, or {"source": "…"} carrying the YAML text,
// which keeps it verbatim. what names the document in the error for an
// empty body.
func readDocument(c *gin.Context, what string) (src []byte, format string, err error) {
	src, err = io.ReadAll(c.Request.Body)
	if err != nil {
		return nil, "", err
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, "", &Error{Status: http.StatusBadRequest, Message: "the body must hold " + what + " (YAML or JSON)"}
	}
	format = store.FormatYAML
	mediaType, _, _ := mime.ParseMediaType(c.ContentType())
	switch {
	case mediaType == "application/json":
		format = store.FormatJSON
		var envelope struct {
			Source     *string `json:"source"`
			APIVersion string  `json:"apiVersion"`
		}
		if err := json.Unmarshal(src, &envelope); err != nil {
			return nil, "", &Error{Status: http.StatusBadRequest, Message: "body is not valid JSON: " + err.Error()}
		}
		if envelope.Source != nil && envelope.APIVersion == "" {
			src, format = []byte(*envelope.Source), store.FormatYAML
		}
	case !readsAsYAML(mediaType):
		return nil, "", unsupportedMediaType(mediaType)
	}
	return src, format, nil
}

// conflictName turns the store's conflict on saving a document into a 409
// naming the document (what: "an experiment", "a game day") and its name.
func conflictName(err error, what, name string) error {
	if errors.Is(err, errkind.Conflict) {
		return &Error{Status: http.StatusConflict, Message: what + " named " + strconv.Quote(name) + " exists already", Field: "metadata.name"}
	}
	return err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
