// Package client is a typed Go client of Faultline's REST API (the routes
// of server/api/openapi.json, served at /openapi.json): experiments and
// their runs, game days and their runs, environments and their overlays,
// the safety lever, validation, schedules' fires and calendars, the audit
// log, /healthz and /metrics.
//
// It uses only the standard library, so it can be vendored into a service's
// tests without the server's dependencies. Every call takes a context;
// nothing has a timeout of its own, so give the context a deadline (event
// streams and Wait last as long as what they follow).
//
//	c, err := client.FromEnv() // FAULTLINE_SERVER, FAULTLINE_TOKEN
//	exp, _, err := c.Experiments.Apply(ctx, src)
//	run, err := c.Runs.Start(ctx, exp.ID, client.StartOptions{})
//	run, err = c.Runs.Wait(ctx, run.ID)
//	if run.Verdict != client.VerdictPass { … }
//
// An answer other than 2xx is an *Error carrying the HTTP status, the
// API's message, field and code, and the problems of a refused document;
// IsNotFound, IsConflict and Code read it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultUserAgent is the User-Agent of a client made without
// WithUserAgent; the server's audit log records it.
const DefaultUserAgent = "faultline-client"

// DefaultPollInterval is how often Wait reads a run whose event stream
// dropped, unless WithPollInterval says otherwise.
const DefaultPollInterval = time.Second

// Client talks to one Faultline server. It is safe for concurrent use.
// Its services group the API's routes by what they act on.
type Client struct {
	base         *url.URL
	token        string
	userAgent    string
	http         *http.Client
	pollInterval time.Duration

	// Experiments stores experiments and reads their schedules' fires.
	Experiments *ExperimentsService
	// Runs starts, follows, stops and reads runs of experiments.
	Runs *RunsService
	// GameDays stores game days and starts them.
	GameDays *GameDaysService
	// GameDayRuns follows, stops and reads game-day runs.
	GameDayRuns *GameDayRunsService
	// Environments stores environments and reads their data planes.
	Environments *EnvironmentsService
	// Overlays lays Istio resources over an environment for a while.
	Overlays *OverlaysService
	// Lever reads, engages and releases the safety lever.
	Lever *LeverService
	// Audit reads the audit log of writes.
	Audit *AuditService
}

// Option configures a Client made by New or FromEnv.
type Option func(*Client)

// WithToken sends token as "Authorization: Bearer <token>" on every
// request; a server with tokens answers 401 without one. An empty token
// sends none.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient sends requests with hc instead of a client of its own
// (nil keeps the default). A Timeout on hc also cuts event streams and
// Wait short; prefer deadlines on the contexts.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithUserAgent sets the User-Agent header; empty keeps DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.userAgent = ua
		}
	}
}

// WithPollInterval sets how often Wait reads a run (or game-day run)
// whose event stream dropped; zero or less keeps DefaultPollInterval.
func WithPollInterval(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.pollInterval = d
		}
	}
}

// New returns a client of the server at baseURL, such as
// "http://127.0.0.1:8080" ("127.0.0.1:8080" means the same; a path, as
// behind a reverse proxy, is kept as the prefix of every route).
func New(baseURL string, opts ...Option) (*Client, error) {
	raw := strings.TrimSpace(baseURL)
	if raw == "" {
		return nil, errors.New("faultline: the server's URL is empty")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("faultline: server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("faultline: server URL %q: the scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("faultline: server URL %q names no host", baseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("faultline: server URL %q: want scheme, host and path only (a token goes in WithToken)", baseURL)
	}
	u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), ""
	c := &Client{base: u, userAgent: DefaultUserAgent, http: &http.Client{}, pollInterval: DefaultPollInterval}
	for _, o := range opts {
		o(c)
	}
	c.Experiments = &ExperimentsService{c: c, Documents: Documents[Experiment]{c: c, kind: KindExperiment, path: "/api/v1/experiments",
		head: func(e *Experiment) (int64, string, string) { return e.ID, e.Name, e.Source }}}
	c.Runs = &RunsService{c: c}
	c.GameDays = &GameDaysService{c: c, Documents: Documents[GameDay]{c: c, kind: KindGameDay, path: "/api/v1/gamedays",
		head: func(g *GameDay) (int64, string, string) { return g.ID, g.Name, g.Source }}}
	c.GameDayRuns = &GameDayRunsService{c: c}
	c.Environments = &EnvironmentsService{c: c, Documents: Documents[Environment]{c: c, kind: KindEnvironment, path: "/api/v1/environments",
		head: func(e *Environment) (int64, string, string) { return e.ID, e.Name, e.Source }}}
	c.Overlays = &OverlaysService{c: c}
	c.Lever = &LeverService{c: c}
	c.Audit = &AuditService{c: c}
	return c, nil
}

// FromEnv returns a client of the server FAULTLINE_SERVER names, with the
// token in FAULTLINE_TOKEN (if set), as the CLI reads them; opts apply
// after the environment, so WithToken overrides FAULTLINE_TOKEN.
func FromEnv(opts ...Option) (*Client, error) {
	server := os.Getenv("FAULTLINE_SERVER")
	if server == "" {
		return nil, errors.New("faultline: FAULTLINE_SERVER is not set (the server's URL, such as http://127.0.0.1:8080)")
	}
	return New(server, append([]Option{WithToken(os.Getenv("FAULTLINE_TOKEN"))}, opts...)...)
}

// BaseURL returns the server's URL as the client uses it.
func (c *Client) BaseURL() string { return c.base.String() }

// Healthz reports whether the server answers /healthz (no token needed).
func (c *Client) Healthz(ctx context.Context) error {
	return c.getJSON(ctx, "/healthz", nil, nil)
}

// Metrics returns /metrics in Prometheus's text exposition format: run and
// game-day counts, faultline_safety_lever_engaged and the proxies'
// counters under Envoy's names.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	return c.getBytes(ctx, "/metrics", nil)
}

// OpenAPI returns the server's OpenAPI document (/openapi.json).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	return c.getBytes(ctx, "/openapi.json", nil)
}

// request is one call of the API.
type request struct {
	method, path string
	query        url.Values
	body         []byte
	contentType  string
	accept       string
}

// send makes the request and returns the response of a 2xx answer, whose
// body the caller closes; any other answer is an *Error.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	u := *c.base
	u.Path = c.base.Path + r.path
	u.RawQuery = r.query.Encode()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("faultline: %s %s: %w", r.method, r.path, err)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", orDefault(r.accept, "application/json"))
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("faultline: %s %s: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, readError(r.method, r.path, resp)
	}
	return resp, nil
}

// do makes the request and decodes a JSON answer into out (nil discards
// it).
func (c *Client) do(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Read to the end either way, so the connection can be reused.
	defer func() { _, _ = io.Copy(io.Discard, resp.Body) }()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("faultline: %s %s: decode the answer: %w", r.method, r.path, err)
	}
	return nil
}

// getJSON reads path and decodes its JSON into out.
func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	return c.do(ctx, request{method: http.MethodGet, path: path, query: query}, out)
}

// postJSON sends in (nil: no body) as JSON with method and decodes the
// answer into out.
func (c *Client) postJSON(ctx context.Context, method, path string, in, out any) error {
	r := request{method: method, path: path}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("faultline: %s %s: %w", method, path, err)
		}
		r.body, r.contentType = b, "application/json"
	}
	return c.do(ctx, r, out)
}

// sendDocument sends a document's source with method: as JSON when it is
// JSON (the document itself, or {"source": "…"}), else as YAML.
func (c *Client) sendDocument(ctx context.Context, method, path string, src []byte, out any) error {
	ct := "application/yaml"
	if json.Valid(src) {
		ct = "application/json"
	}
	return c.do(ctx, request{method: method, path: path, body: src, contentType: ct}, out)
}

// getBytes reads path as it is (an export, the metrics, the OpenAPI
// document).
func (c *Client) getBytes(ctx context.Context, path string, query url.Values) ([]byte, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: path, query: query, accept: "*/*"})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("faultline: GET %s: %w", path, err)
	}
	return b, nil
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
