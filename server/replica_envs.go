package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/manager/environments"
	"github.com/faultline/faultline/server/store"
)

// ElsewhereError refuses a run or an overlay on an environment whose data
// plane another replica serves. It is an errkind.Conflict (409).
type ElsewhereError struct {
	Environment string
	// Replica holds the environment; "" when none does right now (its
	// holder died and no replica has taken it over yet).
	Replica string
}

func (e *ElsewhereError) Error() string {
	if e.Replica == "" {
		return fmt.Sprintf("environment %s is not served by this replica and no replica serves it right now: one takes it over within the lease TTL", e.Environment)
	}
	return fmt.Sprintf("environment %s is served by replica %s, not this one: start runs and overlays on it there", e.Environment, e.Replica)
}

// Code names the refusal for API clients: "elsewhere".
func (e *ElsewhereError) Code() string { return "elsewhere" }

// Unwrap makes an ElsewhereError an errkind.Conflict.
func (e *ElsewhereError) Unwrap() error { return errkind.Conflict }

// sharedPlanes serves, with several replicas on one database, the data
// planes of the environments this replica holds a lease on, and only
// those: each environment listens on one replica. The others refuse runs
// and overlays on it with an *ElsewhereError naming its holder, and take
// it over once the holder's lease has expired.
type sharedPlanes struct {
	*environments.Manager
	db  *store.DB
	ttl time.Duration
	log *slog.Logger

	// changed, when set, tells the other replicas that environment id
	// changed, so that its holder applies the change (applyChange).
	changed func(id int64)

	mu   sync.Mutex
	held map[int64]bool // by environment ID
}

// newSharedPlanes returns the shared planes of db's environments; set
// Manager before use (the manager reads its store through store()).
func newSharedPlanes(db *store.DB, ttl time.Duration, log *slog.Logger) *sharedPlanes {
	return &sharedPlanes{db: db, ttl: ttl, log: log, held: map[int64]bool{}}
}

// store is the environments' store as the manager sees it: the
// environments this replica holds, claimed as they are listed.
func (s *sharedPlanes) store() environments.Store { return heldEnvironments{s} }

type heldEnvironments struct{ s *sharedPlanes }

func (h heldEnvironments) ListEnvironments(ctx context.Context, p store.Page) ([]store.Environment, int64, error) {
	page, total, err := h.s.db.ListEnvironments(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	out := page[:0]
	for _, e := range page {
		if ok, err := h.s.claim(ctx, e.ID, e.Name); err != nil {
			return nil, 0, err
		} else if ok {
			out = append(out, e)
		}
	}
	// The total stays the store's, so the manager pages on to the end.
	return out, total, nil
}

// claim leases environment id to this replica if no other holds it, and
// reports whether this replica holds it.
func (s *sharedPlanes) claim(ctx context.Context, id int64, name string) (bool, error) {
	holder, err := s.db.ClaimEnvironment(ctx, id, s.db.Clock().Add(s.ttl))
	if err != nil {
		return false, err
	}
	mine := holder == s.db.Replica()
	s.mu.Lock()
	was := s.held[id]
	if mine {
		s.held[id] = true
	} else {
		delete(s.held, id)
	}
	s.mu.Unlock()
	if mine && !was {
		s.log.Info("environment served by this replica", "environment", name, "replica", holder)
	}
	return mine, nil
}

func (s *sharedPlanes) holds(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[id]
}

// Put serves the environment here when this replica holds it (or can
// claim it); another replica's holds it otherwise.
func (s *sharedPlanes) Put(e *store.Environment) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mine, err := s.claim(ctx, e.ID, e.Name)
	if err != nil {
		return fmt.Errorf("environments: %s: %w", e.Name, err)
	}
	if !mine {
		s.tell(e.ID) // its holder puts it
		return nil
	}
	return s.Manager.Put(e)
}

func (s *sharedPlanes) tell(id int64) {
	if s.changed != nil {
		s.changed(id)
	}
}

// applyChange brings the data plane of environment id, if it listens
// here, to the environment as stored: another replica changed or deleted
// it.
func (s *sharedPlanes) applyChange(id int64) {
	if !s.holds(id) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := s.db.GetEnvironment(ctx, id)
	switch {
	case errors.Is(err, errkind.NotFound):
		err = s.Remove(id)
	case err == nil:
		err = s.Manager.Put(e)
	}
	if err != nil {
		s.log.Error("environment changed on another replica: apply it here", "environment", id, "err", err)
	}
}

// Remove stops the environment's data plane if it listens here, and has
// its holder stop it otherwise.
func (s *sharedPlanes) Remove(id int64) error {
	if !s.holds(id) {
		s.tell(id)
		return nil
	}
	if err := s.Manager.Remove(id); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.held, id)
	s.mu.Unlock()
	return nil
}

// Resolve returns the named environment's baseline and version, for
// documents checked on it (an experiment stored on any replica): from the
// data plane when it listens here, from the store otherwise.
func (s *sharedPlanes) Resolve(name string) (*scenarios.Document, int, error) {
	doc, v, err := s.Manager.Resolve(name)
	if !errors.Is(err, errkind.NotFound) {
		return doc, v, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, gerr := s.db.GetEnvironmentByName(ctx, name)
	if gerr != nil {
		return nil, 0, err
	}
	doc, perr := scenarios.ParseEnvironment([]byte(e.Source))
	if perr != nil {
		return nil, 0, fmt.Errorf("environments: %s: %w", name, perr)
	}
	return doc, e.Version, nil
}

// resolveForRun is Resolve for a run, which needs the data plane: one
// served elsewhere is an *ElsewhereError.
func (s *sharedPlanes) resolveForRun(name string) (*scenarios.Document, int, error) {
	doc, v, err := s.Manager.Resolve(name)
	if !errors.Is(err, errkind.NotFound) {
		return doc, v, err
	}
	return nil, 0, s.elsewhere(name, err)
}

// AddOverlay lays an overlay over an environment served here.
func (s *sharedPlanes) AddOverlay(envID int64, src []byte, ttl time.Duration) (*environments.Overlay, error) {
	ov, err := s.Manager.AddOverlay(envID, src, ttl)
	if errors.Is(err, errkind.NotFound) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if e, gerr := s.db.GetEnvironment(ctx, envID); gerr == nil {
			return nil, s.elsewhere(e.Name, err)
		}
	}
	return ov, err
}

// elsewhere explains why the stored environment name has no data plane
// here; notFound is returned for one the store does not have.
func (s *sharedPlanes) elsewhere(name string, notFound error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := s.db.GetEnvironmentByName(ctx, name)
	if err != nil {
		return notFound
	}
	holder, _, err := s.db.EnvironmentHolder(ctx, e.ID)
	if err != nil {
		return err
	}
	return &ElsewhereError{Environment: name, Replica: holder}
}

// renewed drops the data planes of the environments whose leases were not
// renewed (held is what RenewLeases renewed): another replica may serve
// them now.
func (s *sharedPlanes) renewed(held []int64) {
	keep := map[int64]bool{}
	for _, id := range held {
		keep[id] = true
	}
	s.mu.Lock()
	var lost []int64
	for id := range s.held {
		if !keep[id] {
			lost = append(lost, id)
		}
	}
	s.mu.Unlock()
	for _, id := range lost {
		// A claim after the renewal started counts.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		holder, ok, err := s.db.EnvironmentHolder(ctx, id)
		cancel()
		if err != nil || (ok && holder == s.db.Replica()) {
			continue
		}
		if err := s.Manager.Forget(id); err != nil {
			s.log.Error("environment lease lost: stop its data plane", "environment", id, "err", err)
			continue // again at the next renewal
		}
		s.log.Warn("environment lease lost: its data plane stopped here", "environment", id, "holder", holder)
		s.mu.Lock()
		delete(s.held, id)
		s.mu.Unlock()
	}
}

// dropAll stops every data plane served here: this replica cannot renew
// its leases on them, and another may take them over. One still held by
// a run is left for the next call.
func (s *sharedPlanes) dropAll() {
	s.mu.Lock()
	var ids []int64
	for id := range s.held {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		if err := s.Manager.Forget(id); err != nil {
			s.log.Error("environment lease not renewed: stop its data plane", "environment", id, "err", err)
			continue
		}
		s.log.Warn("environment lease not renewed: its data plane stops here", "environment", id)
		s.mu.Lock()
		delete(s.held, id)
		s.mu.Unlock()
	}
}

// takeOver claims the environments no replica holds (their holder died,
// or they are new) and serves them here.
func (s *sharedPlanes) takeOver(ctx context.Context) {
	for offset := 0; ; {
		page, total, err := s.db.ListEnvironments(ctx, store.Page{Limit: 500, Offset: offset})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("replica: list environments", "err", err)
			}
			return
		}
		for i := range page {
			e := &page[i]
			if s.holds(e.ID) {
				continue
			}
			if _, ok, err := s.db.EnvironmentHolder(ctx, e.ID); err != nil || ok {
				continue
			}
			if err := s.Put(e); err != nil {
				s.log.Error("replica: take an environment over", "environment", e.Name, "err", err)
			} else if s.holds(e.ID) {
				s.log.Warn("environment taken over: its holder stopped renewing its lease", "environment", e.Name)
			}
		}
		offset += len(page)
		if len(page) == 0 || int64(offset) >= total {
			return
		}
	}
}
