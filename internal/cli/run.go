package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/client"
	"github.com/faultline/faultline/internal/input"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/runstatus"
	"github.com/faultline/faultline/server/safety"
)

func runCommand() *cobra.Command {
	var flags runFlags
	var o experimentOptions
	var accessLog, dryRun bool
	cmd := &cobra.Command{
		Use:   "run FILE | --server URL NAME|FILE",
		Short: "Run one experiment, headless or on a server, and print its report",
		Long: "Run the experiment in FILE (- for standard input) through its own proxy listeners with fortio load,\n" +
			"print the report and store nothing. With --server (or FAULTLINE_SERVER) the experiment runs on that\n" +
			"server instead: NAME is a stored experiment, a FILE is applied first (created or updated by\n" +
			"metadata.name); FAULTLINE_TOKEN is the server's token. With --dry-run nothing is started and no\n" +
			"load is sent: the command validates, checks the limits and the allow-list, dials the targets,\n" +
			"compiles the routes and prints which rule each sample request would hit, with the predictions.\n" +
			"Exit codes: 0 pass (or no hypothesis; a dry run that resolved everything), 1 hypothesis failed,\n" +
			"2 invalid input, 3 run error (a dry run with an unreachable target).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runOptions = flags.options(cmd)
			if dryRun {
				if flags.server != "" {
					fmt.Fprintln(o.Stderr, "faultline run: --dry-run runs headless only; on a server, POST /api/v1/experiments/{id}/runs?dryRun=true")
					return exit(ExitInvalid)
				}
				return exit(dryRunFile(cmd.Context(), args[0], o))
			}
			if accessLog {
				o.AccessLog = cmd.ErrOrStderr()
			}
			var bar *progressBar
			if !o.JSON && isTerminal(os.Stderr) {
				bar = newProgressBar(os.Stderr)
				o.Progress = bar.update
			}
			var code int
			if flags.server != "" {
				code = runRemote(cmd.Context(), args[0], newRemoteOptions(cmd, flags.server, ""), o)
			} else {
				code = runFile(cmd.Context(), args[0], o)
			}
			if bar != nil {
				bar.finish()
			}
			return exit(code)
		},
	}
	flags.add(cmd, runFlagHelp{
		json:   "print the report as JSON",
		junit:  "write JUnit XML (one test case per hypothesis check) to this file",
		seed:   "seed for fault and routing draws (replays a run); 0 uses spec.seed or a fresh one",
		server: "run on this Faultline server (its token in FAULTLINE_TOKEN) instead of headless",
	})
	f := cmd.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "start nothing and send no load: validate, check the limits and the allow-list, dial the targets, and print the route table and the predictions")
	f.BoolVar(&accessLog, "access-log", false, "print the proxy's access log (Istio format) to standard error")
	f.StringVar(&o.FortioFile, "fortio-json", "", "write fortio's result JSON (loadable by fortio's report viewer) to this file")
	f.StringVar(&o.CSVFile, "csv", "", "write the latency histogram as CSV to this file")
	f.StringVar(&o.CredentialsDir, "credentials-dir", "", input.CredentialsDirHelp)
	return cmd
}

// runOptions are what run and gameday run share: the settings of their
// common flags, the limits of what they run, and where they write.
// gameday run takes nothing more.
type runOptions struct {
	// JSON prints the report as JSON on Stdout (gameday run's step lines
	// then go to Stderr).
	JSON bool
	// JUnitFile, when set, receives the JUnit XML of the run or game day.
	JUnitFile string
	Seed      int64
	Allow     []string
	Limits    safety.Limits
	Stdout    io.Writer
	Stderr    io.Writer
	Logger    *slog.Logger
}

// experimentOptions configure run: runOptions, and what only an
// experiment's run gives.
type experimentOptions struct {
	runOptions
	AccessLog io.Writer
	// Progress, when set, receives live progress (the progress bar).
	Progress func(report.Progress)
	// FortioFile and CSVFile, when set, receive fortio's result JSON and
	// the latency histogram as CSV.
	FortioFile, CSVFile string
	// CredentialsDir is the TLS credentials directory; "" is none.
	CredentialsDir string
}

// runFlags are the flags run and gameday run share.
type runFlags struct {
	runOptions
	verbose bool
	// server is the server to run on; "" runs headless.
	server string
}

// runFlagHelp holds the help of the shared flags whose meaning differs
// between run and gameday run.
type runFlagHelp struct{ json, junit, seed, server string }

// add defines the shared flags on cmd.
func (r *runFlags) add(cmd *cobra.Command, help runFlagHelp) {
	f := cmd.Flags()
	f.BoolVar(&r.JSON, "json", false, help.json)
	f.StringVar(&r.JUnitFile, "junit", "", help.junit)
	f.Int64Var(&r.Seed, "seed", 0, help.seed)
	f.StringSliceVar(&r.Allow, "allow", nil, "widen the target allow-list beyond loopback")
	f.BoolVarP(&r.verbose, "verbose", "v", false, "log progress to standard error")
	f.StringVar(&r.server, "server", os.Getenv("FAULTLINE_SERVER"), help.server)
}

// options are the flags' settings for cmd, writing where cmd does.
func (r *runFlags) options(cmd *cobra.Command) runOptions {
	o := r.runOptions
	o.Stdout, o.Stderr, o.Logger = cmd.OutOrStdout(), cmd.ErrOrStderr(), logger(r.verbose)
	return o
}

// runFile runs the experiment in path once, prints its report (JSON or
// text), stores nothing, and returns the exit code.
func runFile(ctx context.Context, path string, o experimentOptions) int {
	doc, allow, code := admitFile("run", path, o.Allow, o.Stderr)
	if doc == nil {
		return code
	}
	if o.Limits == (safety.Limits{}) {
		o.Limits = safety.DefaultLimits
	}
	if err := safety.CheckLimits(doc.Experiment.Spec.Load, o.Limits); err != nil {
		fmt.Fprintln(o.Stderr, "faultline run:", err)
		return ExitInvalid
	}
	creds, err := input.CredentialsFS(o.CredentialsDir)
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline run:", err)
		return ExitInvalid
	}
	rep, err := experiment.Execute(ctx, doc, experiment.Options{Seed: o.Seed, AllowTarget: allow, Limits: o.Limits,
		OnProgress: o.Progress, AccessLog: o.AccessLog, Logger: o.Logger, BaseDir: baseDir(path), Credentials: creds})
	var invalid *scenarios.InvalidError
	if errors.As(err, &invalid) {
		input.PrintInvalid(o.Stderr, err) // as validate reports it (experiment.Check)
		return ExitInvalid
	}
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline run:", err)
		return ExitRunError
	}
	if err := writeExports(rep, o); err != nil {
		fmt.Fprintln(o.Stderr, "faultline run:", err)
		return ExitRunError
	}
	if code := printReport(rep, o); code != ExitPass {
		return code
	}
	return exitCode(string(rep.Status)) // stopped before the end: no verdict to give
}

// dryRunFile resolves the experiment in path without starting anything
// (experiment.DryRun) and prints the route table and the predictions,
// or the JSON with --json. Invalid input exits as run's does; a target
// that cannot be reached exits ExitRunError, as the run would end.
func dryRunFile(ctx context.Context, path string, o experimentOptions) int {
	const cmd = "faultline run --dry-run:"
	doc, allow, code := admitFile("run", path, o.Allow, o.Stderr)
	if doc == nil {
		return code
	}
	if o.Limits == (safety.Limits{}) {
		o.Limits = safety.DefaultLimits
	}
	creds, err := input.CredentialsFS(o.CredentialsDir)
	if err != nil {
		fmt.Fprintln(o.Stderr, cmd, err)
		return ExitInvalid
	}
	d, err := experiment.DryRun(ctx, doc, experiment.Options{Seed: o.Seed, AllowTarget: allow, Limits: o.Limits, Logger: o.Logger,
		BaseDir: baseDir(path), Credentials: creds})
	if err != nil {
		fmt.Fprintln(o.Stderr, cmd, err)
		var invalid *scenarios.InvalidError
		var limit *safety.LimitError
		var target *safety.TargetError
		if errors.As(err, &invalid) || errors.As(err, &limit) || errors.As(err, &target) {
			return ExitInvalid // what validate and run refuse, with the same words
		}
		return ExitRunError // as run's Execute refuses it
	}
	if o.JSON {
		err = writeJSON(o.Stdout, d)
	} else {
		err = report.WriteDryRunText(o.Stdout, d)
	}
	if err != nil {
		fmt.Fprintln(o.Stderr, cmd, "write:", err)
		return ExitRunError
	}
	for _, t := range d.Targets {
		if t.Status == report.TargetUnreachable {
			return ExitRunError
		}
	}
	return ExitPass
}

// writeExports writes the export files the options ask for.
func writeExports(rep *report.Report, o experimentOptions) error {
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

// printReport prints a run's report, as JSON or text; it returns
// ExitPass when it printed.
func printReport(rep *report.Report, o experimentOptions) int {
	var err error
	if o.JSON {
		err = writeJSON(o.Stdout, rep)
	} else {
		err = report.WriteText(o.Stdout, rep)
	}
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline run: write report:", err)
		return ExitRunError
	}
	return ExitPass
}

// exitCode is the exit code of a run or game-day run that ended with
// status: 0 succeeded, 1 failed (the hypothesis), 3 any other end.
func exitCode(status string) int {
	switch runstatus.Status(status) {
	case runstatus.Succeeded:
		return ExitPass
	case runstatus.Failed:
		return ExitFail
	}
	return ExitRunError
}

// runRemote runs a stored experiment on the server and follows it to its
// end as runFile does a file: the same progress, the same report, the
// same exit codes. ref names a stored experiment, or is a file (or - for
// standard input) that is applied first, creating or updating the
// experiment by metadata.name. Interrupting the command stops the run.
func runRemote(ctx context.Context, ref string, ro remoteOptions, o experimentOptions) int {
	const cmd = "faultline run:"
	c, err := ro.client()
	if err != nil {
		fmt.Fprintln(o.Stderr, cmd, err)
		return ExitInvalid
	}
	id, code := storedRef(ctx, c, client.KindExperiment, ref,
		idByName(c.Experiments.List, func(e client.Experiment) (int64, string) { return e.ID, e.Name }), o.Stderr)
	if code != ExitPass {
		return code
	}
	run, err := c.Runs.Start(ctx, id, client.StartOptions{Seed: o.Seed})
	if err != nil {
		return remoteFailure(o.Stderr, cmd, err)
	}
	fmt.Fprintf(o.Stderr, "run %d of %s started on %s\n", run.ID, run.Experiment, ro.Server)
	final, err := followRun(ctx, c, run.ID, o.Progress)
	if err != nil {
		return remoteFailure(o.Stderr, cmd, err)
	}
	if final.Report == nil || len(final.Report.Raw) == 0 {
		fmt.Fprintf(o.Stderr, "%s run %d ended %s without a report: %s\n", cmd, final.ID, final.Status, final.Reason)
		return ExitRunError
	}
	var rep report.Report
	if err := json.Unmarshal(final.Report.Raw, &rep); err != nil {
		fmt.Fprintln(o.Stderr, cmd, "read the report:", err)
		return ExitRunError
	}
	if err := writeRemoteExports(ctx, c, final.ID, o); err != nil {
		fmt.Fprintln(o.Stderr, cmd, err)
		return ExitRunError
	}
	if code := printReport(&rep, o); code != ExitPass {
		return code
	}
	return exitCode(string(final.Status))
}

// followRun sends the run's progress to onProgress until it ends, and
// returns it as stored, report included. When ctx ends first, the run is
// stopped, and followed to its end all the same.
func followRun(ctx context.Context, c *client.Client, id int64, onProgress func(report.Progress)) (*client.Run, error) {
	events, err := c.Runs.Events(ctx, id)
	if err == nil {
		for ev := range events {
			if ev.Progress != nil && onProgress != nil {
				if p, err := convertJSON[report.Progress](ev.Progress); err == nil {
					onProgress(p)
				}
			}
		}
	}
	bg := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		if err := c.Runs.Stop(bg, id); err != nil && !client.IsConflict(err) {
			return nil, fmt.Errorf("stop run %d: %w", id, err)
		}
	}
	wctx, cancel := context.WithTimeout(bg, 10*time.Minute)
	defer cancel()
	if _, err := c.Runs.Wait(wctx, id); err != nil {
		return nil, err
	}
	return c.Runs.Get(wctx, id)
}

// writeRemoteExports writes the files the options ask for, from the server.
func writeRemoteExports(ctx context.Context, c *client.Client, id int64, o experimentOptions) error {
	for _, ex := range []struct {
		path string
		get  func(context.Context, int64) ([]byte, error)
	}{{o.JUnitFile, c.Runs.JUnit}, {o.FortioFile, c.Runs.FortioJSON}, {o.CSVFile, c.Runs.HistogramCSV}} {
		if ex.path == "" {
			continue
		}
		body, err := ex.get(ctx, id)
		if err == nil {
			err = os.WriteFile(ex.path, body, 0o644)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", ex.path, err)
		}
	}
	return nil
}
