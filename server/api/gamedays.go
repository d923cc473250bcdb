package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/store"
)

// GameDayStore keeps game days.
type GameDayStore interface {
	ListGameDays(ctx context.Context, p store.Page) ([]store.GameDay, int64, error)
	GetGameDay(ctx context.Context, id int64) (*store.GameDay, error)
	CreateGameDay(ctx context.Context, g *store.GameDay) error
	UpdateGameDay(ctx context.Context, g *store.GameDay) error
	DeleteGameDay(ctx context.Context, id int64) error
}

// GameDayRunStore reads game-day runs, their webhook deliveries and the
// fires of game-day schedules.
type GameDayRunStore interface {
	GetGameDayRun(ctx context.Context, id int64) (*store.GameDayRun, error)
	ListGameDayRuns(ctx context.Context, gameDayID int64, p store.Page) ([]store.GameDayRun, int64, error)
	ListWebhookDeliveries(ctx context.Context, gameDayRunID int64) ([]store.WebhookDelivery, error)
	ListGameDayFires(ctx context.Context, gameDayID int64, p store.Page) ([]store.Fire, int64, error)
}

// GameDays checks, starts and stops game days.
type GameDays interface {
	// Check resolves the stored experiments a game day names; a
	// *scenarios.InvalidError names the field of an unknown one.
	Check(ctx context.Context, gd *scenarios.GameDay) error
	StartGameDay(ctx context.Context, gameDayID int64, trigger string) (runID int64, err error)
	// Stop halts a running game-day run and waits for its end (or ctx).
	Stop(ctx context.Context, runID int64, reason string) error
	ActiveRun(gameDayID int64) (runID int64, ok bool)
}

// GameDayLive follows running game days. Reports and step events are
// JSON, as the game-day runner defines them.
type GameDayLive interface {
	Snapshot(runID int64) (report []byte, ok bool)
	Subscribe(runID int64) (report []byte, steps <-chan []byte, cancel func(), ok bool)
	JUnit(ctx context.Context, runID int64) ([]byte, error)
}

// gameDayJSON is a game day as the API shows it. Source is the document as
// submitted; lists leave it out (GET by id has it).
type gameDayJSON struct {
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
	LastRun     *lastRunJSON        `json:"lastRun,omitempty"`
}

// lastRunJSON summarises a game day's latest run.
type lastRunJSON struct {
	ID        int64            `json:"id"`
	Status    runstatus.Status `json:"status"`
	Verdict   string           `json:"verdict"`
	CreatedAt time.Time        `json:"createdAt"`
}

// gameDayRunJSON is a game-day run as the API shows it.
type gameDayRunJSON struct {
	ID             int64            `json:"id"`
	GameDayID      *int64           `json:"gameDayId"`
	GameDay        string           `json:"gameDay"`
	GameDayVersion int              `json:"gameDayVersion"`
	Trigger        string           `json:"trigger"`
	Status         runstatus.Status `json:"status"`
	Reason         string           `json:"reason,omitempty"`
	Verdict        string           `json:"verdict,omitempty"`
	CreatedAt      time.Time        `json:"createdAt"`
	EndedAt        *time.Time       `json:"endedAt,omitempty"`
	Report         json.RawMessage  `json:"report,omitempty"`
	Webhooks       []webhookJSON    `json:"webhooks,omitempty"`
}

// webhookJSON is one webhook delivery of a game-day run's end.
type webhookJSON struct {
	Event       string    `json:"event"`
	URL         string    `json:"url"`
	StatusCode  int       `json:"statusCode"`
	Attempts    int       `json:"attempts"`
	Error       string    `json:"error,omitempty"`
	DeliveredAt time.Time `json:"deliveredAt"`
}

func toGameDayRunJSON(r *store.GameDayRun, withReport bool) gameDayRunJSON {
	out := gameDayRunJSON{ID: r.ID, GameDayID: r.GameDayID, GameDay: r.GameDayName, GameDayVersion: r.GameDayVersion,
		Trigger: r.Trigger, Status: r.Status, Reason: r.Reason, Verdict: r.Verdict, CreatedAt: r.CreatedAt, EndedAt: r.EndedAt}
	if withReport && len(r.Report) > 0 {
		out.Report = json.RawMessage(r.Report)
	}
	return out
}

// unsignedWarning is added to a saved game day with a webhook while the
// server has no webhook secret.
const unsignedWarning = "the server has no webhook secret (--webhook-secret or FAULTLINE_WEBHOOK_SECRET): deliveries will be unsigned"

func (h *handlers) toGameDayJSON(ctx context.Context, g *store.GameDay, warnings scenarios.Problems) gameDayJSON {
	out := gameDayJSON{ID: g.ID, Name: g.Name, Description: g.Description, Version: g.Version, Format: g.Format,
		Source: g.Source, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt, Warnings: warnings,
		Schedule: h.scheduleJSONOf(gameDaySchedule(g))}
	if runs, _, err := h.cfg.GameDayRuns.ListGameDayRuns(ctx, g.ID, store.Page{Limit: 1}); err == nil && len(runs) > 0 {
		r := runs[0]
		out.LastRun = &lastRunJSON{ID: r.ID, Status: r.Status, Verdict: r.Verdict, CreatedAt: r.CreatedAt}
	}
	return out
}

// gameDaysChanged tells the scheduler to re-read the game days.
func (h *handlers) gameDaysChanged() {
	if h.cfg.OnGameDaysChanged != nil {
		h.cfg.OnGameDaysChanged()
	}
}

func (h *handlers) listGameDays(c *gin.Context) {
	ctx := c.Request.Context()
	writeList(c, h.log, h.cfg.GameDayStore.ListGameDays, func(g *store.GameDay) gameDayJSON {
		out := h.toGameDayJSON(ctx, g, nil)
		out.Source = "" // GET by id has it
		return out
	})
}

func (h *handlers) getGameDay(c *gin.Context) {
	_, g, err := byID(c, h.cfg.GameDayStore.GetGameDay)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, h.toGameDayJSON(c.Request.Context(), g, nil))
}

func (h *handlers) createGameDay(c *gin.Context) {
	g, warnings, err := h.readGameDay(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	if err := h.cfg.GameDayStore.CreateGameDay(c.Request.Context(), g); err != nil {
		writeError(c, h.log, conflictName(err, "a game day", g.Name))
		return
	}
	h.gameDaysChanged()
	c.Header("Location", fmt.Sprintf("/api/v1/gamedays/%d", g.ID))
	c.JSON(http.StatusCreated, h.toGameDayJSON(c.Request.Context(), g, warnings))
}

func (h *handlers) updateGameDay(c *gin.Context) {
	id, _, err := byID(c, h.cfg.GameDayStore.GetGameDay)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	g, warnings, err := h.readGameDay(c)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	g.ID = id
	if err := h.cfg.GameDayStore.UpdateGameDay(c.Request.Context(), g); err != nil {
		writeError(c, h.log, conflictName(err, "a game day", g.Name))
		return
	}
	h.gameDaysChanged()
	c.JSON(http.StatusOK, h.toGameDayJSON(c.Request.Context(), g, warnings))
}

// deleteGameDay stops a running run of the game day first, then deletes
// it; its runs stay, without their game day.
func (h *handlers) deleteGameDay(c *gin.Context) {
	id, _, err := byID(c, h.cfg.GameDayStore.GetGameDay)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	ctx := c.Request.Context()
	if rid, ok := h.cfg.GameDays.ActiveRun(id); ok {
		sctx, cancel := context.WithTimeout(ctx, stopWait)
		err := h.cfg.GameDays.Stop(sctx, rid, "stopped: the game day was deleted")
		cancel()
		if err != nil && !errors.Is(err, errkind.Conflict) {
			writeError(c, h.log, err)
			return
		}
	}
	if err := h.cfg.GameDayStore.DeleteGameDay(ctx, id); err != nil {
		writeError(c, h.log, err)
		return
	}
	h.gameDaysChanged()
	c.Status(http.StatusNoContent)
}

// stopWait bounds how long a request waits for a game day it stopped to
// record its end.
const stopWait = 10 * time.Second

// readGameDay reads, parses and resolves the game day in the body: every
// experiment it names must be stored (by name) and admitted.
func (h *handlers) readGameDay(c *gin.Context) (*store.GameDay, scenarios.Problems, error) {
	src, format, err := readDocument(c, "a GameDay document")
	if err != nil {
		return nil, nil, err
	}
	gd, warnings, err := h.checkGameDay(c.Request.Context(), src)
	if err != nil {
		return nil, nil, err
	}
	g := &store.GameDay{Name: gd.Metadata.Name, Description: gd.Metadata.Description, Source: string(src), Format: format}
	return g, warnings, nil
}

// checkGameDay parses a GameDay document and resolves the experiments it
// names against the stored ones, admitted by the safety policy, as saving
// does (without game days configured, it only parses); POST /validate
// checks a game day with it too. A bad document is a
// *scenarios.InvalidError; the warnings include deliveries to a webhook
// that the server cannot sign.
func (h *handlers) checkGameDay(ctx context.Context, src []byte) (*scenarios.GameDay, scenarios.Problems, error) {
	gd, err := scenarios.ParseGameDay(src)
	if err != nil {
		return nil, nil, err
	}
	if h.cfg.GameDays != nil {
		if err := h.cfg.GameDays.Check(ctx, gd); err != nil {
			return nil, nil, err
		}
	}
	warnings := gd.Warnings
	if n := gd.Spec.Notify; n != nil && n.Webhook != nil && !h.cfg.WebhookSigned {
		warnings = append(warnings, scenarios.Problem{Severity: scenarios.SeverityWarning, Document: "GameDay " + gd.Metadata.Name,
			Path: "spec.notify.webhook", Message: unsignedWarning})
	}
	return gd, warnings, nil
}

func (h *handlers) startGameDay(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	ctx := c.Request.Context()
	rid, err := h.cfg.GameDays.StartGameDay(ctx, id, store.TriggerAPI)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	run, err := h.cfg.GameDayRuns.GetGameDayRun(ctx, rid)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.Header("Location", fmt.Sprintf("/api/v1/gameday-runs/%d", rid))
	c.JSON(http.StatusAccepted, toGameDayRunJSON(run, false))
}

func (h *handlers) listGameDayRuns(c *gin.Context) {
	writeOwnedList(c, h.log, h.cfg.GameDayStore.GetGameDay, h.cfg.GameDayRuns.ListGameDayRuns,
		func(r *store.GameDayRun) gameDayRunJSON { return toGameDayRunJSON(r, false) })
}

// listGameDayFires is the fire history of a game day's schedule, latest
// first.
func (h *handlers) listGameDayFires(c *gin.Context) {
	writeOwnedList(c, h.log, h.cfg.GameDayStore.GetGameDay, h.cfg.GameDayRuns.ListGameDayFires, toFireJSON)
}

// gameDayRun reads a game-day run with its report (the report so far
// while it runs) and its webhook deliveries.
func (h *handlers) gameDayRun(ctx context.Context, id int64) (gameDayRunJSON, error) {
	run, err := h.cfg.GameDayRuns.GetGameDayRun(ctx, id)
	if err != nil {
		return gameDayRunJSON{}, err
	}
	out := toGameDayRunJSON(run, true)
	if run.Status.Active() {
		if snap, ok := h.cfg.GameDayLive.Snapshot(id); ok {
			out.Report = snap
		}
	}
	ds, err := h.cfg.GameDayRuns.ListWebhookDeliveries(ctx, id)
	if err != nil {
		return gameDayRunJSON{}, err
	}
	for _, d := range ds {
		out.Webhooks = append(out.Webhooks, webhookJSON{Event: d.Event, URL: d.URL, StatusCode: d.StatusCode, Attempts: d.Attempts, Error: d.Error, DeliveredAt: d.DeliveredAt})
	}
	return out, nil
}

func (h *handlers) getGameDayRun(c *gin.Context) {
	id, err := idParam(c, "rid")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	out, err := h.gameDayRun(c.Request.Context(), id)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (h *handlers) stopGameDayRun(c *gin.Context) {
	id, err := idParam(c, "rid")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), stopWait)
	defer cancel()
	if err := h.cfg.GameDays.Stop(ctx, id, ""); err != nil {
		writeError(c, h.log, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": id, "stopping": true})
}

func (h *handlers) gameDayRunJUnit(c *gin.Context) {
	id, err := idParam(c, "rid")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	body, err := h.cfg.GameDayLive.JUnit(c.Request.Context(), id)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="gameday-run-%d.junit.xml"`, id))
	c.Data(http.StatusOK, "application/xml", body)
}

// gameDayRunEvents streams a game-day run as server-sent events: "state"
// with the run and its report so far, a "step" event per step start and
// end ({start, step, parent}, parent the ID of the parallel group the
// step belongs to or ""), then "end" with the run as stored. A run that
// already ended gets "state" and "end" at once.
func (h *handlers) gameDayRunEvents(c *gin.Context) {
	id, err := idParam(c, "rid")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	ctx := c.Request.Context()
	run, err := h.cfg.GameDayRuns.GetGameDayRun(ctx, id)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	startSSE(c)
	snap, steps, cancel, live := h.cfg.GameDayLive.Subscribe(id)
	defer cancel()
	state := toGameDayRunJSON(run, true)
	if live {
		state.Report = snap
	} else if state, err = h.gameDayRun(ctx, id); err != nil {
		c.SSEvent("error", gin.H{"message": "game-day run vanished"})
		return
	}
	c.SSEvent("state", state)
	c.Writer.Flush()
	follow(c, steps, live, "step", func() {
		if end, err := h.gameDayRun(ctx, id); err != nil {
			c.SSEvent("error", gin.H{"message": "game-day run vanished"})
		} else {
			c.SSEvent("end", end)
		}
	})
}
