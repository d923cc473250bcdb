package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
	// Schedules name IANA zones; a FROM scratch image has no zoneinfo.
	_ "time/tzdata"

	"github.com/oklog/run"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/api"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/errkind"
	"github.com/faultline/faultline/server/manager/environments"
	"github.com/faultline/faultline/server/manager/gamedays"
	"github.com/faultline/faultline/server/manager/runs"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/safety"
	"github.com/faultline/faultline/server/scheduler"
	"github.com/faultline/faultline/server/store"
	"github.com/faultline/faultline/server/webhook"
	"github.com/faultline/faultline/web"
)

// Serve runs the API, dashboard and run manager until ctx ends. ready, if
// not nil, receives the listening address once the server accepts
// connections.
func Serve(ctx context.Context, cfg Config, log *slog.Logger, ready func(addr string)) error {
	cfg.setDefaults()
	tokens, err := cfg.check()
	if err != nil {
		return err
	}
	allow, err := safety.AllowList(cfg.Allow)
	if err != nil {
		return fmt.Errorf("server: --allow: %w", err)
	}
	// One server per SQLite file, decided before anything is changed: a
	// second one would mark the first one's live runs interrupted. (Servers
	// on one PostgreSQL database share it through leases instead.)
	unlock, err := store.Lock(cfg.DB)
	if err != nil {
		return fmt.Errorf("server: --db %s: %w", store.Redacted(cfg.DB), err)
	}
	defer unlock()
	db, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return fmt.Errorf("server: open database: %w", err)
	}
	defer db.Close()

	replicaID := newReplicaID()
	var interruptedGameDays []int64
	if db.Postgres() {
		// Other servers may share the database: their runs are theirs
		// while their leases last, and the sweep of the replica actor
		// ends those whose leases expired.
		db.SetReplica(replicaID, cfg.LeaseTTL)
		offset, err := db.SyncClock(ctx)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		log.Info("replica on a shared database", "replica", replicaID, "leaseTTL", cfg.LeaseTTL, "clockOffset", offset.Round(time.Millisecond))
	} else {
		// The lock makes this process the file's only server: whatever it
		// finds active belonged to one that died.
		db.SetReplica(replicaID, 0)
		n, err := db.MarkInterrupted(ctx, "the server stopped while the run was active", time.Now().UTC())
		if err != nil {
			return fmt.Errorf("server: mark interrupted runs: %w", err)
		}
		if n > 0 {
			log.Warn("runs left active by a previous process marked interrupted", "count", n)
		}
		interruptedGameDays, err = db.MarkGameDaysInterrupted(ctx, "the server stopped while the game day was running", time.Now().UTC())
		if err != nil {
			return fmt.Errorf("server: mark interrupted game days: %w", err)
		}
		if len(interruptedGameDays) > 0 {
			log.Warn("game days left running by a previous process marked interrupted", "count", len(interruptedGameDays))
		}
	}
	lever, err := db.Lever(ctx)
	if err != nil {
		return fmt.Errorf("server: read the safety lever: %w", err)
	}
	if lever.Engaged {
		log.Warn("the safety lever is engaged: no run will start until it is released", "reason", lever.Reason, "since", lever.Since)
	}
	if cfg.LoadExamples {
		if err := loadExamples(ctx, db, log); err != nil {
			return err
		}
	}

	containers, err := safety.NewContainerPolicy(cfg.AllowBuildDirs, cfg.AllowImages)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	hooks, err := webhookGuard(cfg.Allow)
	if err != nil {
		return err
	}
	engineOpts := experiment.Options{AllowTarget: allow, Limits: cfg.Limits, Logger: log, Containers: containers}
	if cfg.CredentialsDir != "" {
		if st, err := os.Stat(cfg.CredentialsDir); err != nil || !st.IsDir() {
			return fmt.Errorf("server: --credentials-dir %s is not a directory", cfg.CredentialsDir)
		}
		engineOpts.Credentials = os.DirFS(cfg.CredentialsDir)
	}
	admit := func(doc *scenarios.Document) error {
		if err := safety.Admit(doc, allow, cfg.Limits); err != nil {
			return err
		}
		return safety.CheckContainers(doc, containers)
	}
	admitEnvironment := func(doc *scenarios.Document) error { return safety.AdmitEnvironment(doc, allow) }

	// Every stored environment listens from start-up, at its baseline.
	// With other servers on the database, each environment listens on
	// the one replica that holds its lease.
	var planes *sharedPlanes
	var envStore environments.Store = db
	if db.Postgres() {
		planes = newSharedPlanes(db, cfg.LeaseTTL, log)
		envStore = planes.store()
	}
	envs := environments.New(environments.Config{Store: envStore, AllowTarget: allow, Logger: log, Journal: db, KubeconfigDir: cfg.KubeconfigDir})
	envs.LeverMoved(lever)
	var envPlanes api.Environments = envs
	runEnvs := runEnvironments{envs, envs.Resolve}
	if planes != nil {
		planes.Manager = envs
		envPlanes, runEnvs = planes, runEnvironments{envs, planes.resolveForRun}
	}
	if err := applyEnvironmentFiles(ctx, db, envs, cfg.EnvironmentFiles, admitEnvironment, log); err != nil {
		return err
	}
	if err := envs.Start(ctx); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer envs.Close()

	// With other servers on the database, runs' progress and changes of
	// schedules reach them through the bus.
	var shared *bus
	var (
		relay      func(report.Progress)
		remoteStop func(int64, string)
	)
	if db.Postgres() {
		shared = newBus(db, log)
		relay, remoteStop = shared.relay, shared.stopRun
	}
	var met *metrics
	manager := runs.New(db, experiment.Execute, runs.Config{MaxConcurrent: cfg.MaxConcurrentRuns, MaxQueued: cfg.MaxQueuedRuns, Engine: engineOpts, Logger: log, KeepRuns: cfg.KeepRuns,
		OnFinish:     func(id int64, status runstatus.Status, stats *proxy.Stats) { met.runFinished(id, status, stats) },
		Environments: runEnvs, Relay: relay, RemoteStop: remoteStop})
	manager.RestoreLever(lever)
	manager.OnLever(envs.LeverMoved) // an engaged lever ends the overlays
	gameDaysCfg := gamedays.Config{Store: db, Runs: manager, Webhooks: webhook.NewGuarded([]byte(cfg.WebhookSecret), hooks),
		Admit: admit, Logger: log, OnFinish: func(id int64, status runstatus.Status) { met.gameDayFinished(id, status) }}
	if shared != nil {
		gameDaysCfg.RemoteStop, gameDaysCfg.Relay = shared.stopGameDayRun, shared.relayGameDay
	}
	gameDays := gamedays.New(gameDaysCfg)
	manager.OnLever(gameDays.LeverMoved) // an engaged lever halts the game days too
	met = newMetrics(manager, gameDays, envs)
	sched, err := scheduler.New(scheduler.Config{Kinds: scheduleKinds(db, manager, gameDays, log), Logger: log})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	schedulesChanged := sched.Notify
	if shared != nil {
		shared.progress, shared.stop, shared.stopGameDay, shared.schedules = manager.Deliver, manager.StopLocal, gameDays.StopLocal, sched.Notify
		shared.environment, planes.changed = planes.applyChange, shared.environmentChanged
		shared.gameDayEvent = gameDays.Deliver
		schedulesChanged = func() { sched.Notify(); shared.schedulesChanged() }
	}
	handler := api.New(api.Config{
		Experiments:          db,
		RunStore:             db,
		Runs:                 manager,
		Fires:                db,
		NextFires:            nextFires,
		Calendar:             calendar,
		OnExperimentsChanged: schedulesChanged,
		OnGameDaysChanged:    schedulesChanged,
		Admit:                admit,
		Check:                func(doc *scenarios.Document) scenarios.Problems { return experiment.Check(doc, engineOpts) },
		GameDayStore:         db,
		GameDayRuns:          db,
		GameDays:             gameDays,
		GameDayLive:          gameDays,
		WebhookSigned:        cfg.WebhookSecret != "",
		EnvironmentStore:     db,
		Environments:         envPlanes,
		AdmitEnvironment:     admitEnvironment,
		Health:               db.Ping,

		Tokens:      tokens,
		AllowHosts:  cfg.AllowHosts,
		ReadTimeout: cfg.ReadTimeout,
		Audit:       db,
		Metrics:     met.handler(),
		Dashboard:   web.FS(),
		Logger:      log,
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		sched.Discard()
		return fmt.Errorf("server: listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}

	// Requests (server-sent event streams above all) end when the server
	// stops, not only when their client leaves.
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	srv.BaseContext = func(net.Listener) context.Context { return reqCtx }

	var g run.Group
	// Interrupts run in the order actors were added: stop the schedules
	// first, then the runs, then end the streams, then drain the HTTP server.
	schedCtx, stopSched := context.WithCancel(context.Background())
	g.Add(func() error { return sched.Run(schedCtx) }, func(error) { stopSched() })
	// Game days stop before the runs their steps started.
	gameDaysCtx, stopGameDays := context.WithCancel(context.Background())
	gameDays.NotifyInterrupted(ctx, interruptedGameDays)
	g.Add(func() error { return gameDays.Run(gameDaysCtx) }, func(error) { stopGameDays() })
	managerCtx, stopManager := context.WithCancel(context.Background())
	g.Add(func() error { return manager.Run(managerCtx) }, func(error) { stopManager() })
	// The data planes close after the runs on them have put their
	// baselines back.
	envsCtx, stopEnvs := context.WithCancel(context.Background())
	g.Add(func() error { return envs.Run(envsCtx) }, func(error) { stopEnvs() })
	if db.Postgres() {
		// Renews the leases of this server's runs, ends those of dead
		// servers, follows the lever moved on others.
		rep := &replica{id: replicaID, ttl: cfg.LeaseTTL, db: db, runs: manager, gameDays: gameDays, planes: planes, log: log}
		replicaCtx, stopReplica := context.WithCancel(context.Background())
		g.Add(func() error { return rep.run(replicaCtx) }, func(error) { stopReplica() })
		busCtx, stopBus := context.WithCancel(context.Background())
		g.Add(func() error { return shared.run(busCtx) }, func(error) { stopBus() })
	}
	g.Add(func() error {
		log.Info("faultline serving", "addr", ln.Addr().String(), "db", store.Redacted(cfg.DB), "tokens", len(tokens))
		if ready != nil {
			ready(ln.Addr().String())
		}
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("server: serve: %w", err)
		}
		return nil
	}, func(error) {
		cancelRequests()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	g.Add(func() error {
		<-ctx.Done()
		return nil
	}, func(error) {})
	// The context actor returns first on shutdown; its interrupt is a no-op
	// because ctx is the caller's to cancel.
	err = g.Run()
	if planes != nil {
		// The data planes are closed: other replicas may take the
		// environments over at once rather than after the TTL.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rerr := db.ReleaseEnvironments(rctx); rerr != nil {
			log.Error("release the environments' leases", "err", rerr)
		}
	}
	return err
}

// loadExamples stores the shipped example experiments and game days into
// an empty database so the first screens are not empty.
func loadExamples(ctx context.Context, db *store.DB, log *slog.Logger) error {
	_, total, err := db.ListExperiments(ctx, store.Page{Limit: 1})
	if err != nil {
		return fmt.Errorf("server: list experiments: %w", err)
	}
	if total > 0 {
		return nil
	}
	examples, err := scenarios.Examples()
	if err != nil {
		return err
	}
	for _, ex := range examples {
		e := &store.Experiment{Name: ex.Name, Description: ex.Description, Source: string(ex.Source), Format: "yaml"}
		if err := db.CreateExperiment(ctx, e); err != nil && !errors.Is(err, errkind.Conflict) {
			return fmt.Errorf("server: load example %s: %w", ex.File, err)
		}
	}
	log.Info("loaded example experiments", "count", len(examples))
	gameDays, err := scenarios.GameDayExamples()
	if err != nil {
		return err
	}
	for _, ex := range gameDays {
		g := &store.GameDay{Name: ex.Name, Description: ex.Description, Source: string(ex.Source), Format: "yaml"}
		if err := db.CreateGameDay(ctx, g); err != nil && !errors.Is(err, errkind.Conflict) {
			return fmt.Errorf("server: load example game day %s: %w", ex.File, err)
		}
	}
	log.Info("loaded example game days", "count", len(gameDays))
	return nil
}

// webhookGuard is the target rule of game-day webhooks: public addresses,
// and what --allow names (loopback only when named).
func webhookGuard(entries []string) (*webhook.Guard, error) {
	allow, err := safety.ExplicitAllowList(entries)
	if err != nil {
		return nil, fmt.Errorf("server: --allow: %w", err)
	}
	return &webhook.Guard{Allow: allow}, nil
}

// runEnvironments gives the run manager its leases of the environments'
// data planes; resolve is the manager's Resolve, or the replica's that
// tells environments served elsewhere apart.
type runEnvironments struct {
	*environments.Manager
	resolve func(name string) (*scenarios.Document, int, error)
}

// Resolve returns the named environment's baseline and version.
func (e runEnvironments) Resolve(name string) (*scenarios.Document, int, error) {
	return e.resolve(name)
}

// Lease waits for (or, without wait, refuses) the environment and leases
// it to the run.
func (e runEnvironments) Lease(ctx context.Context, name string, runID int64, experiment string, wait bool) (runs.Lease, error) {
	l, err := e.Acquire(ctx, name, environments.Holder{Kind: environments.HolderRun, RunID: runID, Experiment: experiment}, wait)
	if err != nil {
		return nil, err
	}
	if ml := l.Mesh(); ml != nil {
		return ml, nil
	}
	return l, nil
}

// applyEnvironmentFiles creates or updates, by name, the environment of
// every file given to serve --environment, before the data planes start:
// a deployment (docker-compose, say) declares its environment once.
func applyEnvironmentFiles(ctx context.Context, db *store.DB, envs *environments.Manager, files []string, admit func(*scenarios.Document) error, log *slog.Logger) error {
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("server: --environment: %w", err)
		}
		doc, err := scenarios.ParseEnvironment(src)
		if err == nil {
			err = admit(doc)
		}
		if err == nil {
			err = envs.Check(ctx, 0, doc)
		}
		if err != nil {
			return fmt.Errorf("server: --environment %s: %w", path, err)
		}
		e := &store.Environment{Name: doc.Name(), Description: doc.Environment.Metadata.Description, Source: string(src), Format: store.FormatYAML}
		if json.Valid(src) {
			e.Format = store.FormatJSON
		}
		old, err := db.GetEnvironmentByName(ctx, e.Name)
		switch {
		case errors.Is(err, errkind.NotFound):
			err = db.CreateEnvironment(ctx, e)
		case err == nil && old.Source == e.Source:
			continue // unchanged: no new version
		case err == nil:
			e.ID = old.ID
			err = db.UpdateEnvironment(ctx, e)
		}
		if err != nil {
			return fmt.Errorf("server: --environment %s: %w", path, err)
		}
		log.Info("environment applied from file", "environment", e.Name, "file", path, "version", e.Version)
	}
	return nil
}
