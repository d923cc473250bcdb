// Package api is Faultline's REST API under /api/v1 (gin): experiments,
// runs, live run events, game days and their runs, environments, the
// safety lever and the audit log, plus /healthz, /metrics and
// /openapi.json. The guards in front of every route (host names, other
// sites' pages, tokens and roles, deadlines) are drawn in guard.go.
// Handlers depend on the small interfaces below, not on the store or
// engine types.
package api

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/store"
)

// ExperimentStore keeps experiments.
type ExperimentStore interface {
	ListExperiments(ctx context.Context, p store.Page) ([]store.Experiment, int64, error)
	GetExperiment(ctx context.Context, id int64) (*store.Experiment, error)
	CreateExperiment(ctx context.Context, e *store.Experiment) error
	UpdateExperiment(ctx context.Context, e *store.Experiment) error
	DeleteExperiment(ctx context.Context, id int64) error
}

// RunStore reads recorded runs.
type RunStore interface {
	GetRun(ctx context.Context, id int64) (*store.Run, error)
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, int64, error)
	Transitions(ctx context.Context, runID int64) ([]store.Transition, error)
}

// Runs starts, stops and follows runs.
type Runs interface {
	Start(ctx context.Context, experimentID, seed int64) (*store.Run, error)
	// StartUnqueued refuses (code busy) instead of queueing behind a run
	// or overlay that holds the experiment's environment.
	StartUnqueued(ctx context.Context, experimentID, seed int64) (*store.Run, error)
	Rerun(ctx context.Context, runID int64) (*store.Run, error)
	Stop(ctx context.Context, id int64) error
	Subscribe(id int64) (current report.Progress, updates <-chan report.Progress, cancel func(), ok bool)
	LiveProxy(id int64) (listeners []proxy.Listener, stats proxy.Stats, ok bool)
	Lever() store.LeverState
	Engage(ctx context.Context, reason, by string) (store.LeverState, error)
	Release(ctx context.Context, reason, by string) (store.LeverState, error)
}

// FireStore reads the fires of experiment schedules.
type FireStore interface {
	ListFires(ctx context.Context, experimentID int64, p store.Page) ([]store.Fire, int64, error)
}

// Config wires the API.
type Config struct {
	Experiments ExperimentStore
	RunStore    RunStore
	Runs        Runs
	Fires       FireStore
	// NextFires computes a schedule's next n times after from; nil leaves
	// nextFires out of the experiment JSON.
	NextFires func(s *scenarios.Schedule, from time.Time, n int) []time.Time
	// Calendar lays a schedule out over [from, to) for the calendar
	// routes, which are left out when it is nil. A nil or turned-off
	// schedule lays out nothing, but its range is checked all the same: a
	// refused range is an error whose FieldPath is "from" or "to".
	Calendar func(s *scenarios.Schedule, from, to time.Time) (*Calendar, error)
	// OnExperimentsChanged, when set, learns that an experiment was
	// created, updated or deleted (the scheduler re-reads them). It must
	// not block.
	OnExperimentsChanged func()
	// GameDayStore, GameDayRuns, GameDays and GameDayLive serve the
	// game-day routes; they are left out unless all four are set.
	GameDayStore GameDayStore
	GameDayRuns  GameDayRunStore
	GameDays     GameDays
	GameDayLive  GameDayLive
	// OnGameDaysChanged, when set, learns that a game day was created,
	// updated or deleted. It must not block.
	OnGameDaysChanged func()
	// WebhookSigned says the server signs webhook deliveries; without it,
	// saving a game day with a webhook warns that deliveries are unsigned.
	WebhookSigned bool
	// Admit applies the server's safety policy (target allow-list, load
	// ceilings) to a parsed document; nil admits everything.
	Admit func(doc *scenarios.Document) error
	// Check finds every problem a run of a parsed document would meet
	// before its load (experiment.Check with the server's allow-list,
	// ceilings, container policy and credentials directory): POST
	// /validate reports them, so it finds what a run would. Nil leaves
	// validate to Admit.
	Check func(doc *scenarios.Document) scenarios.Problems
	// EnvironmentStore and Environments serve the environment routes;
	// they are left out unless both are set. AdmitEnvironment applies the
	// safety policy to an environment's document (listeners and endpoints
	// on the allow-list); nil admits everything.
	EnvironmentStore EnvironmentStore
	Environments     Environments
	AdmitEnvironment func(doc *scenarios.Document) error
	// Tokens, when any are set, are required as "Authorization: Bearer
	// <secret>" on /api/v1 and /metrics, and each request may do what its
	// token's role allows. With none, every caller may do everything (the
	// server then listens on loopback only).
	Tokens []Token
	// AllowHosts are the names, beyond loopback ones, that the server
	// answers to in the Host header ("*": any), and whose pages may write
	// (the Origin header); serve --allow-host.
	AllowHosts []string
	// ReadTimeout bounds the time a client may take to send a request's
	// body (408 beyond); default 30s. WriteTimeout bounds the writing of
	// an answer other than an event stream; default 2 minutes.
	ReadTimeout, WriteTimeout time.Duration
	// Audit keeps the audit log of writes and serves GET /audit; nil
	// records nothing.
	Audit AuditStore
	// MaxBodyBytes bounds request bodies (413 beyond); default 1 MiB.
	MaxBodyBytes int64
	// Metrics serves /metrics; nil leaves it out.
	Metrics http.Handler
	// Dashboard is the embedded web UI, served under /ui/.
	Dashboard fs.FS
	Logger    *slog.Logger
	// Health reports whether what the server needs answers (the
	// database); /healthz answers 503 with its error. Nil is healthy.
	Health func(ctx context.Context) error
}

// handlers holds the configured dependencies of every route.
type handlers struct {
	cfg   Config
	log   *slog.Logger
	hosts *hostGuard
}

// New returns the API's HTTP handler.
func New(cfg Config) http.Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handlers{cfg: cfg, log: cfg.Logger, hosts: newHostGuard(cfg.AllowHosts)}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.CustomRecovery(func(c *gin.Context, v any) {
		h.log.Error("api: panic", "path", c.Request.URL.Path, "panic", v)
		writeError(c, h.log, &Error{Status: http.StatusInternalServerError, Message: "internal error"})
	}))
	_ = r.SetTrustedProxies(nil)
	// The order of the guards is drawn in guard.go.
	r.Use(securityHeaders, h.checkHost, h.deadlines, h.checkCrossSite)
	r.NoRoute(func(c *gin.Context) {
		writeError(c, h.log, &Error{Status: http.StatusNotFound, Message: "no such route: " + c.Request.Method + " " + c.Request.URL.Path})
	})

	r.GET("/healthz", h.healthz)
	r.GET("/openapi.json", serveOpenAPI(OpenAPI()))
	if cfg.Dashboard != nil {
		r.StaticFS("/ui", http.FS(cfg.Dashboard))
		r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/ui/") })
	}
	if cfg.Metrics != nil {
		r.GET("/metrics", h.authenticate(), h.authorize(), gin.WrapH(cfg.Metrics))
	}
	v1 := r.Group("/api/v1", h.authenticate(), h.audit, h.authorize(), h.checkContentType, h.limitBody())
	v1.GET("/experiments", h.listExperiments)
	v1.POST("/experiments", h.createExperiment)
	v1.GET("/experiments/:id", h.getExperiment)
	v1.PUT("/experiments/:id", h.updateExperiment)
	v1.DELETE("/experiments/:id", h.deleteExperiment)
	v1.POST("/validate", h.validate)
	v1.POST("/experiments/:id/runs", h.startRun)
	v1.GET("/runs", h.listRuns)
	v1.GET("/runs/:id", h.getRun)
	v1.GET("/runs/:id/events", h.runEvents)
	v1.POST("/runs/:id/stop", h.stopRun)
	v1.POST("/runs/:id/rerun", h.rerun)
	v1.GET("/runs/:id/proxy", h.liveProxy)
	v1.GET("/runs/:id/compare/:other", h.compareRuns)
	v1.GET("/runs/:id/fortio.json", h.exportFortio)
	v1.GET("/runs/:id/junit.xml", h.exportJUnit)
	v1.GET("/runs/:id/histogram.csv", h.exportCSV)
	v1.GET("/experiments/:id/fires", h.listFires)
	v1.GET("/experiments/:id/export", h.exportExperiment)
	if cfg.Calendar != nil {
		v1.GET("/experiments/:id/calendar", h.experimentCalendar)
	}
	if cfg.GameDayStore != nil && cfg.GameDayRuns != nil && cfg.GameDays != nil && cfg.GameDayLive != nil {
		v1.GET("/gamedays", h.listGameDays)
		v1.POST("/gamedays", h.createGameDay)
		v1.GET("/gamedays/:id", h.getGameDay)
		v1.PUT("/gamedays/:id", h.updateGameDay)
		v1.DELETE("/gamedays/:id", h.deleteGameDay)
		v1.POST("/gamedays/:id/runs", h.startGameDay)
		v1.GET("/gamedays/:id/runs", h.listGameDayRuns)
		v1.GET("/gamedays/:id/fires", h.listGameDayFires)
		if cfg.Calendar != nil {
			v1.GET("/gamedays/:id/calendar", h.gameDayCalendar)
		}
		v1.GET("/gameday-runs/:rid", h.getGameDayRun)
		v1.POST("/gameday-runs/:rid/stop", h.stopGameDayRun)
		v1.GET("/gameday-runs/:rid/events", h.gameDayRunEvents)
		v1.GET("/gameday-runs/:rid/junit.xml", h.gameDayRunJUnit)
	}
	if cfg.EnvironmentStore != nil && cfg.Environments != nil {
		v1.GET("/environments", h.listEnvironments)
		v1.POST("/environments", h.createEnvironment)
		v1.GET("/environments/:id", h.getEnvironment)
		v1.PUT("/environments/:id", h.updateEnvironment)
		v1.DELETE("/environments/:id", h.deleteEnvironment)
		v1.GET("/environments/:id/graph", h.environmentGraph)
		v1.GET("/environments/:id/access-log", h.environmentAccessLog)
		v1.GET("/environments/:id/runs", h.listEnvironmentRuns)
		v1.GET("/environments/:id/overlays", h.listOverlays)
		v1.POST("/environments/:id/overlays", h.addOverlay)
		v1.DELETE("/environments/:id/overlays/:oid", h.deleteOverlay)
	}
	v1.GET("/safety/lever", h.getLever)
	v1.POST("/safety/lever", h.moveLever)
	if cfg.Audit != nil {
		v1.GET("/audit", h.listAudit)
	}
	return r
}

// limitBody caps request bodies; reading past the cap yields a 413.
func (h *handlers) limitBody() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, h.cfg.MaxBodyBytes)
		c.Next()
	}
}

// healthTimeout bounds /healthz's check.
const healthTimeout = 2 * time.Second

// healthz answers 200 while the server's database answers, else 503 with
// the cause: a load balancer sends no traffic to a replica cut off from
// it, until it is back.
func (h *handlers) healthz(c *gin.Context) {
	if h.cfg.Health != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), healthTimeout)
		defer cancel()
		if err := h.cfg.Health(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unhealthy", "error": err.Error()})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}
