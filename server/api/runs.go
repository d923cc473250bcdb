package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/store"
)

// runJSON is a run as the API shows it.
type runJSON struct {
	ID                int64            `json:"id"`
	ExperimentID      *int64           `json:"experimentId"`
	Experiment        string           `json:"experiment"`
	ExperimentVersion int              `json:"experimentVersion"`
	Status            runstatus.Status `json:"status"`
	Reason            string           `json:"reason,omitempty"`
	Verdict           string           `json:"verdict,omitempty"`
	Seed              int64            `json:"seed"`
	CreatedAt         time.Time        `json:"createdAt"`
	StartedAt         *time.Time       `json:"startedAt,omitempty"`
	EndedAt           *time.Time       `json:"endedAt,omitempty"`
	Transitions       []transitionJSON `json:"transitions,omitempty"`
	Report            json.RawMessage  `json:"report,omitempty"`
	// GameDayRunID and GameDayStep name the game-day run and step that
	// started the run, if one did.
	GameDayRunID *int64 `json:"gameDayRunId,omitempty"`
	GameDayStep  string `json:"gameDayStep,omitempty"`
	// Environment and EnvironmentVersion name the environment the run
	// laid its resources over, if any.
	Environment        string `json:"environment,omitempty"`
	EnvironmentVersion int    `json:"environmentVersion,omitempty"`
	// Replica names the server that executes (or executed) the run, with
	// several on one database.
	Replica string `json:"replica,omitempty"`
}

type transitionJSON struct {
	Status runstatus.Status `json:"status"`
	Reason string           `json:"reason,omitempty"`
	At     time.Time        `json:"at"`
}

func toRunJSON(r *store.Run, withReport bool) runJSON {
	out := runJSON{ID: r.ID, ExperimentID: r.ExperimentID, Experiment: r.ExperimentName, ExperimentVersion: r.ExperimentVersion,
		Status: r.Status, Reason: r.Reason, Verdict: r.Verdict, Seed: r.Seed, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, EndedAt: r.EndedAt,
		GameDayRunID: r.GameDayRunID, GameDayStep: r.GameDayStep, Environment: r.Environment, EnvironmentVersion: r.EnvironmentVersion,
		Replica: r.Owner}
	if withReport && len(r.Report) > 0 {
		out.Report = json.RawMessage(r.Report)
	}
	return out
}

// runStatuses names the statuses GET /runs?status= filters by, for its
// refusal of any other.
func runStatuses() string {
	var names []string
	for _, s := range runstatus.All() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// startRunJSON is the optional body of POST /experiments/{id}/runs.
type startRunJSON struct {
	// Seed replays a previous run's fault decisions; 0 draws a new seed.
	Seed int64 `json:"seed"`
	// Wait false refuses the run (409, code busy) while a run or an
	// overlay holds the experiment's environment, instead of queueing it.
	Wait *bool `json:"wait"`
}

func (h *handlers) startRun(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if raw, ok := c.GetQuery("dryRun"); ok {
		dry, err := strconv.ParseBool(raw)
		if err != nil {
			writeError(c, h.log, &Error{Status: http.StatusBadRequest, Field: "dryRun", Message: "dryRun must be true or false, not " + strconv.Quote(raw)})
			return
		}
		if dry {
			h.dryRun(c, id)
			return
		}
	}
	var body startRunJSON
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			writeError(c, h.log, &Error{Status: http.StatusBadRequest, Message: "body must be JSON like {\"seed\": 42, \"wait\": false}: " + err.Error()})
			return
		}
	}
	start := h.cfg.Runs.Start
	if body.Wait != nil && !*body.Wait {
		start = h.cfg.Runs.StartUnqueued
	}
	run, err := start(c.Request.Context(), id, body.Seed)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.Header("Location", fmt.Sprintf("/api/v1/runs/%d", run.ID))
	c.JSON(http.StatusAccepted, toRunJSON(run, false))
}

// dryRunner is the Runs that can dry-run an experiment (the runs
// manager's DryRun).
type dryRunner interface {
	DryRun(ctx context.Context, experimentID int64) (*report.DryRun, error)
}

// dryRun answers POST /experiments/{id}/runs?dryRun=true: the route
// table and predictions of a run of the experiment, admitted as a run
// would be; no run is created and nothing is started.
func (h *handlers) dryRun(c *gin.Context, id int64) {
	dr, ok := h.cfg.Runs.(dryRunner)
	if !ok {
		writeError(c, h.log, &Error{Status: http.StatusNotImplemented, Field: "dryRun", Message: "this server cannot dry-run experiments"})
		return
	}
	out, err := dr.DryRun(c.Request.Context(), id)
	var compile *proxy.CompileError
	if errors.As(err, &compile) {
		err = &Error{Status: http.StatusUnprocessableEntity, Message: compile.Error()}
	}
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (h *handlers) listRuns(c *gin.Context) {
	writeList(c, h.log, func(ctx context.Context, page store.Page) ([]store.Run, int64, error) {
		f := store.RunFilter{Page: page, Status: runstatus.Status(c.Query("status"))}
		if f.Status != "" && !f.Status.Known() {
			return nil, 0, &Error{Status: http.StatusBadRequest, Field: "status",
				Message: "status must be one of " + runStatuses() + ", not " + strconv.Quote(string(f.Status))}
		}
		if s := c.Query("experiment"); s != "" {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil || id <= 0 {
				return nil, 0, &Error{Status: http.StatusBadRequest, Message: "experiment must be an experiment id", Field: "experiment"}
			}
			f.ExperimentID = id
		}
		return h.cfg.RunStore.ListRuns(ctx, f)
	}, func(r *store.Run) runJSON { return toRunJSON(r, false) })
}

func (h *handlers) getRun(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	run, err := h.cfg.RunStore.GetRun(c.Request.Context(), id)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	out := toRunJSON(run, true)
	ts, err := h.cfg.RunStore.Transitions(c.Request.Context(), id)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	for _, t := range ts {
		out.Transitions = append(out.Transitions, transitionJSON{Status: t.Status, Reason: t.Reason, At: t.At})
	}
	c.JSON(http.StatusOK, out)
}

func (h *handlers) stopRun(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if err := h.cfg.Runs.Stop(c.Request.Context(), id); err != nil {
		writeError(c, h.log, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": id, "stopping": true})
}

// runEvents streams the run's progress as server-sent events: the current
// state first, then a "progress" event per snapshot, then one "end" event
// with the run as stored. A run that already ended gets the "end" event
// at once.
func (h *handlers) runEvents(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	ctx := c.Request.Context()
	if _, err := h.cfg.RunStore.GetRun(ctx, id); err != nil {
		writeError(c, h.log, err)
		return
	}
	startSSE(c)
	current, updates, cancel, live := h.cfg.Runs.Subscribe(id)
	defer cancel()
	if live {
		c.SSEvent("progress", current)
		c.Writer.Flush()
	}
	follow(c, updates, live, "progress", func() { h.sendEnd(c, id) })
}

func (h *handlers) sendEnd(c *gin.Context, id int64) {
	run, err := h.cfg.RunStore.GetRun(c.Request.Context(), id)
	if err != nil {
		c.SSEvent("error", gin.H{"message": "run vanished"})
		return
	}
	c.SSEvent("end", toRunJSON(run, false))
}
