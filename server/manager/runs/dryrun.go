package runs

import (
	"context"

	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/safety"
)

// DryRun resolves a run of the experiment's current version without
// starting one: it parses the source as Start does (on its environment's
// baseline), applies the same admission (the safety policy, the container
// policy), and returns experiment.DryRun's route table and predictions.
// Nothing is recorded, queued or started; the safety lever does not
// refuse it, since nothing is sent.
func (m *Manager) DryRun(ctx context.Context, experimentID int64) (*report.DryRun, error) {
	exp, err := m.store.GetExperiment(ctx, experimentID)
	if err != nil {
		return nil, err
	}
	doc, _, err := m.parse(exp.Source)
	if err != nil {
		return nil, err
	}
	if err := safety.CheckContainers(doc, m.cfg.Engine.Containers); err != nil {
		return nil, err
	}
	opts := m.cfg.Engine
	opts.Logger = m.log
	return experiment.DryRun(ctx, doc, opts)
}
