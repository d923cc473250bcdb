package gamedays

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/gameday"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/store"
)

// Payload is the JSON body a game day's webhook receives when it ends.
type Payload struct {
	// Event is scenarios.WebhookFinished when the game day succeeded and
	// scenarios.WebhookFailed otherwise.
	Event        string           `json:"event"`
	GameDay      string           `json:"gameDay"`
	GameDayRunID int64            `json:"gameDayRunId"`
	Status       runstatus.Status `json:"status"`
	Verdict      string           `json:"verdict"`
	Reason       string           `json:"reason"`
	StartedAt    time.Time        `json:"startedAt"`
	EndedAt      time.Time        `json:"endedAt"`
	Steps        []PayloadStep    `json:"steps"`
	// URL is the API path of the game-day run, with its full report.
	URL string `json:"url"`
}

// PayloadStep is one step in a Payload: the framing checks and every step
// that ran or was skipped, a parallel group's steps in its place.
type PayloadStep struct {
	ID      string           `json:"id"`
	Kind    string           `json:"kind"`
	Name    string           `json:"name,omitempty"`
	Status  runstatus.Status `json:"status"`
	Verdict string           `json:"verdict"`
	RunID   *int64           `json:"runId,omitempty"`
}

// eventOf is the webhook event of a game day's end status.
func eventOf(status runstatus.Status) string {
	if status == runstatus.Succeeded {
		return scenarios.WebhookFinished
	}
	return scenarios.WebhookFailed
}

func payloadOf(runID int64, rep *gameday.Report) Payload {
	p := Payload{Event: eventOf(rep.Status), GameDay: rep.GameDay, GameDayRunID: runID, Status: rep.Status, Verdict: rep.Verdict,
		Reason: rep.Reason, StartedAt: rep.StartedAt, EndedAt: rep.EndedAt, Steps: []PayloadStep{}, URL: runPath(runID)}
	add := func(s *gameday.Step) {
		if s != nil {
			p.Steps = append(p.Steps, PayloadStep{ID: s.ID, Kind: s.Kind, Name: s.Name, Status: s.Status, Verdict: s.Verdict, RunID: s.RunID})
		}
	}
	add(rep.SteadyStateBefore)
	for i := range rep.Steps {
		if rep.Steps[i].Kind == scenarios.StepParallel && len(rep.Steps[i].Steps) > 0 {
			for j := range rep.Steps[i].Steps {
				add(&rep.Steps[i].Steps[j])
			}
			continue
		}
		add(&rep.Steps[i])
	}
	add(rep.SteadyStateAfter)
	return p
}

func runPath(id int64) string { return fmt.Sprintf("/api/v1/gameday-runs/%d", id) }

// deliver sends p to the webhook when it wants the event, in the
// background, and records the delivery.
func (m *Manager) deliver(wh *scenarios.Webhook, p Payload) {
	p.Event = eventOf(p.Status)
	if !wh.Wants(p.Event) {
		return
	}
	m.deliveries.Go(func() {
		d := m.cfg.Webhooks.Send(m.deliverCtx, wh.URL, p.Event, p)
		rec := &store.WebhookDelivery{GameDayRunID: p.GameDayRunID, Event: p.Event, URL: wh.URL, StatusCode: d.StatusCode,
			Attempts: d.Attempts, Error: d.Err, DeliveredAt: time.Now().UTC()}
		if err := m.cfg.Store.RecordWebhookDelivery(context.Background(), rec); err != nil {
			m.log.Error("game day: record webhook delivery", "gamedayRun", p.GameDayRunID, "err", err)
		}
		if d.Err != "" {
			// The record keeps the class of failure; the log, for the
			// operator only, the network's words.
			m.log.Warn("game day: webhook delivery failed", "gamedayRun", p.GameDayRunID, "url", wh.URL, "attempts", d.Attempts,
				"err", d.Err, "detail", d.Detail)
		}
	})
}

// NotifyInterrupted delivers the "failed" webhook of game-day runs a
// previous process left running, which start-up marked interrupted
// (store.MarkGameDaysInterrupted returns their IDs). Deliveries go on in
// the background, owned by the manager.
func (m *Manager) NotifyInterrupted(ctx context.Context, runIDs []int64) {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return
	}
	for _, id := range runIDs {
		run, err := m.cfg.Store.GetGameDayRun(ctx, id)
		if err != nil {
			m.log.Error("game day: read an interrupted run", "gamedayRun", id, "err", err)
			continue
		}
		gd, err := scenarios.ParseGameDay([]byte(run.Source))
		if err != nil || gd.Spec.Notify == nil || gd.Spec.Notify.Webhook == nil {
			continue
		}
		p := Payload{GameDay: run.GameDayName, GameDayRunID: run.ID, Status: run.Status, Verdict: report.VerdictFail, Reason: run.Reason,
			StartedAt: run.CreatedAt, Steps: []PayloadStep{}, URL: runPath(run.ID)}
		if run.EndedAt != nil {
			p.EndedAt = *run.EndedAt
		}
		m.deliver(gd.Spec.Notify.Webhook, p)
	}
}
