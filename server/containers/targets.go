package containers

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/report"
)

// Target is one container endpoint of an experiment.
type Target struct {
	Host      string
	Service   int
	Endpoint  int
	Container *Container
}

// Targets are the containers a run started for its container endpoints.
type Targets struct {
	list []*Target
}

// StartAll starts a container per container endpoint of doc, one after
// the other, and writes each one's 127.0.0.1 address into the endpoint.
// baseDir resolves relative build contexts (the experiment file's
// directory); empty refuses them. With no container endpoint it does
// nothing and needs no Docker engine. On error everything started so far
// is removed.
func StartAll(ctx context.Context, doc *scenarios.Document, baseDir string) (*Targets, error) {
	t := &Targets{}
	specs := map[[2]int]Spec{}
	for i := range doc.Experiment.Spec.Services {
		for j, ep := range doc.Experiment.Spec.Services[i].Endpoints {
			if ep.Container == nil {
				continue
			}
			s, err := specOf(fmt.Sprintf("spec.services[%d].endpoints[%d].container", i, j), ep.Container, baseDir)
			if err != nil {
				return nil, err
			}
			specs[[2]int{i, j}] = s
		}
	}
	if len(specs) == 0 {
		return t, nil
	}
	for i := range doc.Experiment.Spec.Services {
		svc := &doc.Experiment.Spec.Services[i]
		for j := range svc.Endpoints {
			s, ok := specs[[2]int{i, j}]
			if !ok {
				continue
			}
			c, err := Start(ctx, s)
			if err != nil {
				_ = t.Close(context.WithoutCancel(ctx))
				return nil, err
			}
			svc.Endpoints[j].Address = c.Addr
			t.list = append(t.list, &Target{Host: svc.Host, Service: i, Endpoint: j, Container: c})
		}
	}
	return t, nil
}

func specOf(field string, c *scenarios.Container, baseDir string) (Spec, error) {
	s := Spec{Field: field, Image: c.Image, Port: int(c.Port), Env: c.Env, Cmd: c.Cmd}
	if c.Wait != nil {
		s.WaitPath = c.Wait.Path
		if c.Wait.Timeout != nil {
			s.StartupTimeout = c.Wait.Timeout.D()
		}
	}
	if b := c.Build; b != nil {
		dir := b.Context
		if !filepath.IsAbs(dir) {
			if baseDir == "" {
				return Spec{}, fmt.Errorf("%s.build.context: %q is relative, and this run has no experiment file to resolve it against (the API takes none): use an absolute path or run the file with `faultline run`", field, dir)
			}
			dir = filepath.Join(baseDir, dir)
		}
		s.BuildContext, s.Dockerfile = dir, b.Dockerfile
	}
	return s, nil
}

// Find returns the target of service index svc, endpoint index ep.
func (t *Targets) Find(svc, ep int) *Target {
	for _, x := range t.list {
		if x.Service == svc && x.Endpoint == ep {
			return x
		}
	}
	return nil
}

// List returns the started targets in endpoint order.
func (t *Targets) List() []Target {
	out := make([]Target, 0, len(t.list))
	for _, x := range t.list {
		out = append(out, *x)
	}
	return out
}

// Report lists the containers with the last lines of their logs.
func (t *Targets) Report(ctx context.Context) []report.Container {
	var out []report.Container
	for _, x := range t.list {
		out = append(out, report.Container{Service: x.Host, Endpoint: x.Endpoint, Image: x.Container.Image,
			ID: x.Container.ID, Address: x.Container.Addr, LogTail: x.Container.LogTail(ctx, LogTailLines)})
	}
	return out
}

// Close removes every container (and built image), even after a stopped
// or failed run.
func (t *Targets) Close(ctx context.Context) error {
	var errs []error
	for _, x := range t.list {
		if err := x.Container.Remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s of %s: %w", x.Container.ID, x.Host, err))
		}
	}
	t.list = nil
	return errors.Join(errs...)
}

// RunActions takes the timed actions at their offsets from start, in a
// goroutine, until wait is called (when the load ends): wait stops the
// actions not yet due and returns what was done, in order.
func (t *Targets) RunActions(ctx context.Context, spec *scenarios.ExperimentSpec, start time.Time) (wait func() []report.Action) {
	if len(spec.Actions) == 0 {
		return func() []report.Action { return nil }
	}
	actions := slices.Clone(spec.Actions)
	slices.SortStableFunc(actions, func(a, b scenarios.ContainerAction) int { return int(a.At.D() - b.At.D()) })
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu   sync.Mutex
		done []report.Action
		fin  = make(chan struct{})
	)
	go func() {
		defer close(fin)
		for _, a := range actions {
			timer := time.NewTimer(time.Until(start.Add(a.At.D())))
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
			rec := report.Action{At: a.At.String(), AtMs: float64(time.Since(start).Microseconds()) / 1000, Action: a.Action, Target: a.Container}
			err := t.do(ctx, spec, a)
			if err != nil {
				rec.Error = err.Error()
			} else {
				rec.OK = true
			}
			mu.Lock()
			done = append(done, rec)
			mu.Unlock()
		}
	}()
	return func() []report.Action {
		cancel()
		<-fin
		mu.Lock()
		defer mu.Unlock()
		return done
	}
}

func (t *Targets) do(ctx context.Context, spec *scenarios.ExperimentSpec, a scenarios.ContainerAction) error {
	si, ei, err := spec.ContainerEndpoint(a.Container)
	if err != nil {
		return err
	}
	x := t.Find(si, ei)
	if x == nil {
		return fmt.Errorf("no container was started for %s", a.Container)
	}
	// The action itself is not cut short by the end of the load.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	return x.Container.Do(actx, a.Action)
}
