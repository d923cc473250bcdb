package server

import (
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/scheduler"
	"github.com/faultline/faultline/server/store"
)

// scheduleOf reads an experiment's enabled schedule for the scheduler;
// nil when it has none or it is off.
func scheduleOf(e *store.Experiment) (*scheduler.Spec, error) {
	doc, err := scenarios.Parse([]byte(e.Source))
	if err != nil {
		return nil, err
	}
	s := doc.Experiment.Spec.Schedule
	if !s.IsEnabled() {
		return nil, nil
	}
	sp := schedulerSpec(s)
	return &sp, nil
}

func schedulerSpec(s *scenarios.Schedule) scheduler.Spec {
	return scheduler.Spec{Cron: s.Cron, Timezone: s.Timezone, Concurrency: s.ConcurrencyPolicy(), Missed: s.MissedPolicy()}
}

// nextFires gives the API the next n times of a schedule.
func nextFires(s *scenarios.Schedule, from time.Time, n int) []time.Time {
	times, err := scheduler.NextFires(schedulerSpec(s), from, n)
	if err != nil {
		return nil
	}
	return times
}
