package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/containers"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/store"
)

// Exit codes of `faultline run` and `faultline validate`
// (docs/architecture.md, Exit codes).
const (
	ExitPass     = 0
	ExitFail     = 1
	ExitInvalid  = 2
	ExitRunError = 3
)

// Progress is a live snapshot of a run.
type Progress = report.Progress

// RunOptions configure a headless run.
type RunOptions struct {
	JSON      bool
	Seed      int64
	Allow     []string
	Limits    experiment.Limits
	AccessLog io.Writer
	// Progress, when set, receives live progress (the CLI's progress bar).
	Progress func(report.Progress)
	Stdout   io.Writer
	Stderr   io.Writer
	Logger   *slog.Logger
	// JUnitFile, FortioFile and CSVFile, when set, receive the run's JUnit
	// XML, fortio's result JSON and the latency histogram as CSV.
	JUnitFile, FortioFile, CSVFile string
}

// RunFile runs the experiment in path once, prints its report (JSON or
// text), stores nothing, and returns the exit code.
func RunFile(ctx context.Context, path string, o RunOptions) int {
	doc, allow, code := admitFile("run", path, o.Allow, o.Stderr)
	if doc == nil {
		return code
	}
	if o.Limits == (experiment.Limits{}) {
		o.Limits = experiment.DefaultLimits
	}
	if err := experiment.CheckLimits(doc.Experiment.Spec.Load, o.Limits); err != nil {
		fmt.Fprintln(o.Stderr, "faultline run:", err)
		return ExitInvalid
	}
	rep, err := experiment.Execute(ctx, doc, experiment.Options{Seed: o.Seed, AllowTarget: allow, Limits: o.Limits,
		OnProgress: o.Progress, AccessLog: o.AccessLog, Logger: o.Logger, BaseDir: baseDir(path)})
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline run:", err)
		return ExitRunError
	}
	if err := writeExports(rep, o); err != nil {
		fmt.Fprintln(o.Stderr, "faultline run:", err)
		return ExitRunError
	}
	if o.JSON {
		enc := json.NewEncoder(o.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(o.Stderr, "faultline run: write report:", err)
			return ExitRunError
		}
	} else if err := report.WriteText(o.Stdout, rep); err != nil {
		fmt.Fprintln(o.Stderr, "faultline run: write report:", err)
		return ExitRunError
	}
	switch rep.Status {
	case report.StatusFailed:
		return ExitFail
	case report.StatusSucceeded:
		return ExitPass
	}
	return ExitRunError // stopped before the end: no verdict to give
}

// baseDir is the directory relative container build contexts of the
// experiment file at path resolve against; none for standard input.
func baseDir(path string) string {
	if path == "-" {
		return ""
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return ""
	}
	return dir
}

// writeExports writes the export files the options ask for.
func writeExports(rep *report.Report, o RunOptions) error {
	if o.JUnitFile != "" {
		body, err := report.JUnit(rep)
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.JUnitFile, body, 0o644); err != nil {
			return fmt.Errorf("write --junit: %w", err)
		}
	}
	if o.FortioFile != "" {
		if err := os.WriteFile(o.FortioFile, rep.Fortio, 0o644); err != nil {
			return fmt.Errorf("write --fortio-json: %w", err)
		}
	}
	if o.CSVFile != "" {
		if err := os.WriteFile(o.CSVFile, report.HistogramCSV(rep), 0o644); err != nil {
			return fmt.Errorf("write --csv: %w", err)
		}
	}
	return nil
}

// Compare prints run b set against run a. Each of a and b is a report
// JSON file (from `faultline run --json`) or a run id in the database at
// dbPath. It returns the exit code.
func Compare(ctx context.Context, a, b, dbPath string, asJSON bool, stdout, stderr io.Writer) int {
	ra, err := loadReport(ctx, a, dbPath)
	if err != nil {
		fmt.Fprintln(stderr, "faultline compare:", err)
		return ExitInvalid
	}
	rb, err := loadReport(ctx, b, dbPath)
	if err != nil {
		fmt.Fprintln(stderr, "faultline compare:", err)
		return ExitInvalid
	}
	cmp := report.Compare(ra, rb)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(cmp)
	} else {
		err = report.WriteComparison(stdout, cmp)
	}
	if err != nil {
		fmt.Fprintln(stderr, "faultline compare:", err)
		return ExitRunError
	}
	return ExitPass
}

// loadReport reads a report JSON file, or the report of run id ref.
func loadReport(ctx context.Context, ref, dbPath string) (*report.Report, error) {
	var body []byte
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && !fileExists(ref) {
		db, err := store.Open(ctx, dbPath)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", dbPath, err)
		}
		defer db.Close()
		run, err := db.GetRun(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", id, err)
		}
		if len(run.Report) == 0 {
			return nil, fmt.Errorf("run %d has no report (status %s)", id, run.Status)
		}
		body = run.Report
	} else if body, err = os.ReadFile(ref); err != nil {
		return nil, err
	}
	var r report.Report
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s is not a Faultline report: %w", ref, err)
	}
	return &r, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Validate prints every problem of the document in path (an experiment, or
// an environment) and returns 0 when it is valid (warnings allowed) or 2
// when it is not. environment, when set, is the file of the environment an
// experiment runs on: the experiment is checked laid over its baseline.
func Validate(path, environment string, stdout, stderr io.Writer) int {
	src, err := readSource(path)
	if err != nil {
		fmt.Fprintln(stderr, "faultline validate:", err)
		return ExitInvalid
	}
	problems := scenarios.Lint(src)
	if environment != "" {
		envSrc, err := readSource(environment)
		if err != nil {
			fmt.Fprintln(stderr, "faultline validate: --environment:", err)
			return ExitInvalid
		}
		env, err := scenarios.ParseEnvironment(envSrc)
		if err != nil {
			fmt.Fprintf(stderr, "faultline validate: --environment %s: %v\n", environment, err)
			return ExitInvalid
		}
		problems = scenarios.LintOn(src, env)
	}
	for _, p := range problems {
		fmt.Fprintf(stdout, "%s: %s\n", p.Severity, p)
	}
	if n := len(problems.Errors()); n > 0 {
		fmt.Fprintf(stdout, "%s: invalid, %d error(s), %d warning(s)\n", path, n, len(problems.Warnings()))
		return ExitInvalid
	}
	fmt.Fprintf(stdout, "%s: valid, %d warning(s)\n", path, len(problems.Warnings()))
	return ExitPass
}

// ProxyOptions configure `faultline proxy`.
type ProxyOptions struct {
	Listen    string            // mesh listener; default 127.0.0.1:15001
	Gateways  map[string]string // gateway name (or name:port) → address
	Allow     []string
	AccessLog io.Writer
	Stdout    io.Writer
	Stderr    io.Writer
	Logger    *slog.Logger
}

// ServeProxy runs the proxy alone with the routes of the experiment in
// path (and its demo and container targets) until ctx ends; it returns
// the exit code. Container endpoints are started before the proxy listens
// and removed when it stops; spec.actions, timed from a run's load, are
// not taken.
func ServeProxy(ctx context.Context, path string, o ProxyOptions) int {
	doc, allow, code := admitFile("proxy", path, o.Allow, o.Stderr)
	if doc == nil {
		return code
	}
	targets, err := experiment.StartDemoTargets(ctx, doc)
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline proxy:", err)
		return ExitRunError
	}
	defer targets.Close()
	ctrs, err := containers.StartAll(ctx, doc, baseDir(path))
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline proxy:", err)
		return ExitRunError
	}
	defer func() {
		if err := ctrs.Close(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintln(o.Stderr, "faultline proxy:", err)
		}
	}()
	if ctx.Err() != nil { // stopped while the containers started
		return ExitPass
	}
	for _, c := range ctrs.List() {
		fmt.Fprintf(o.Stdout, "container %s/%d (%s, id %.12s) on %s\n", c.Host, c.Endpoint, c.Container.Image, c.Container.ID, c.Container.Addr)
	}
	if n := len(doc.Experiment.Spec.Actions); n > 0 {
		fmt.Fprintf(o.Stderr, "faultline proxy: %d spec.actions not taken: they are timed from a run's load\n", n)
	}
	listen := o.Listen
	if listen == "" {
		listen = "127.0.0.1:15001"
	}
	px, err := proxy.Start(ctx, doc, listen, o.Gateways, proxy.Options{Seed: doc.Experiment.Spec.Seed, AccessLog: o.AccessLog, AllowTarget: allow, Logger: o.Logger})
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline proxy:", err)
		return ExitRunError
	}
	defer px.Close()
	targets.SetMesh(px.MeshAddr())
	for _, l := range px.Listeners() {
		fmt.Fprintf(o.Stdout, "listener %s on http://%s\n", l.Name, l.Addr)
	}
	<-ctx.Done()
	return ExitPass
}

// Examples lists the shipped example experiments.
func Examples() ([]scenarios.Example, error) { return scenarios.Examples() }

// admitFile reads and parses path, prints its warnings, and applies the
// target allow-list built from entries; a nil document comes with the exit
// code to return.
func admitFile(command, path string, entries []string, stderr io.Writer) (*scenarios.Document, func(string) error, int) {
	doc, code := readDocument(path, stderr)
	if doc == nil {
		return nil, nil, code
	}
	for _, w := range doc.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	allow, err := experiment.AllowList(entries)
	if err != nil {
		fmt.Fprintf(stderr, "faultline %s: --allow: %v\n", command, err)
		return nil, nil, ExitInvalid
	}
	if err := experiment.CheckTargets(doc, allow); err != nil {
		fmt.Fprintf(stderr, "faultline %s: %v\n", command, err)
		return nil, nil, ExitInvalid
	}
	return doc, allow, ExitPass
}

// readDocument reads and parses path, printing problems; a nil document
// comes with the exit code to return.
func readDocument(path string, stderr io.Writer) (*scenarios.Document, int) {
	src, err := readSource(path)
	if err != nil {
		fmt.Fprintln(stderr, "faultline:", err)
		return nil, ExitInvalid
	}
	doc, err := scenarios.Parse(src)
	var invalid *scenarios.InvalidError
	if errors.As(err, &invalid) {
		printInvalid(stderr, err)
		return nil, ExitInvalid
	}
	if err != nil {
		fmt.Fprintln(stderr, "faultline:", err)
		return nil, ExitInvalid
	}
	return doc, ExitPass
}

// readSource reads a document from a file, or standard input for "-".
func readSource(path string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	src, err := io.ReadAll(io.LimitReader(r, scenarios.MaxSourceBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(src) > scenarios.MaxSourceBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, scenarios.MaxSourceBytes)
	}
	return src, nil
}
