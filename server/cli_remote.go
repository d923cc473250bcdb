package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/faultline/faultline/client"
	"github.com/faultline/faultline/server/engine/gameday"
	"github.com/faultline/faultline/server/report"
)

// DefaultServer is the server the remote commands talk to when neither
// --server nor FAULTLINE_SERVER names one.
const DefaultServer = "http://127.0.0.1:8080"

// RemoteOptions configure the commands that act on a Faultline server:
// run and gameday run with --server, apply, get and lever.
type RemoteOptions struct {
	// Server is the server's base URL; Token its bearer token ("" for a
	// loopback server without tokens).
	Server, Token string
	// Output is how results print: "" (text), "json" or "yaml".
	Output string
	Stdout io.Writer
	Stderr io.Writer
}

func (o RemoteOptions) client() (*client.Client, error) {
	var opts []client.Option
	if o.Token != "" {
		opts = append(opts, client.WithToken(o.Token))
	}
	return client.New(o.Server, opts...)
}

// RunRemote runs a stored experiment on the server and follows it to its
// end as `faultline run` does a file: the same progress, the same report,
// the same exit codes. ref names a stored experiment, or is a file (or -
// for standard input) that is applied first, creating or updating the
// experiment by metadata.name. Interrupting the command stops the run.
func RunRemote(ctx context.Context, ref string, ro RemoteOptions, o RunOptions) int {
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

// storedRef finds the stored document of kind (client.KindExperiment or
// KindGameDay) that ref names, applying it first when ref is a file (or -
// for standard input); find looks a name up among the stored ones.
func storedRef(ctx context.Context, c *client.Client, kind, ref string, find func(ctx context.Context, name string) (int64, error), stderr io.Writer) (int64, int) {
	if ref == "-" || fileExists(ref) {
		src, err := readSource(ref)
		if err != nil {
			fmt.Fprintln(stderr, "faultline:", err)
			return 0, ExitInvalid
		}
		a, err := c.Apply(ctx, src)
		if err != nil {
			return 0, remoteFailure(stderr, "faultline: apply "+ref+":", err)
		}
		if a.Kind != kind {
			fmt.Fprintf(stderr, "faultline: %s holds a %s, not a %s\n", ref, a.Kind, kind)
			return 0, ExitInvalid
		}
		fmt.Fprintln(stderr, appliedLine(a))
		return a.ID, ExitPass
	}
	id, err := find(ctx, ref)
	if err != nil {
		return 0, remoteFailure(stderr, "faultline:", err)
	}
	if id == 0 {
		fmt.Fprintf(stderr, "faultline: no stored %s is named %q, and there is no such file\n", strings.ToLower(kind), ref)
		return 0, ExitInvalid
	}
	return id, ExitPass
}

// idByName looks a stored document up by name among what list lists;
// head reads an item's id and name. The id is 0 when none has the name.
func idByName[T any](list func(context.Context, client.ListOptions) (*client.Page[T], error), head func(T) (int64, string)) func(context.Context, string) (int64, error) {
	return func(ctx context.Context, name string) (int64, error) {
		items, err := all(ctx, list, name, func(it T) string { _, n := head(it); return n })
		if err != nil || len(items) == 0 {
			return 0, err
		}
		id, _ := head(items[0])
		return id, nil
	}
}

// writeRemoteExports writes the files RunOptions asks for, from the server.
func writeRemoteExports(ctx context.Context, c *client.Client, id int64, o RunOptions) error {
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

// printReport prints a run's report as `faultline run` does; it returns
// ExitPass when it printed.
func printReport(rep *report.Report, o RunOptions) int {
	var err error
	if o.JSON {
		enc := json.NewEncoder(o.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
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
	switch status {
	case report.StatusSucceeded:
		return ExitPass
	case report.StatusFailed:
		return ExitFail
	}
	return ExitRunError
}

// remoteFailure prints a refusal of the server (every problem of a refused
// document) and returns its exit code: 2 for bad input, 3 for the rest.
func remoteFailure(stderr io.Writer, prefix string, err error) int {
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		fmt.Fprintln(stderr, prefix, err)
		return ExitRunError
	}
	if len(apiErr.Problems) > 0 {
		for _, p := range apiErr.Problems {
			fmt.Fprintf(stderr, "%s: %s\n", p.Severity, p)
		}
	} else {
		fmt.Fprintln(stderr, prefix, apiErr.Message)
	}
	switch apiErr.StatusCode {
	case 400, 401, 403, 404, 413, 415, 422:
		return ExitInvalid // the input, or the token, needs changing
	}
	return ExitRunError
}

// Apply creates or updates, by metadata.name, the experiment, game day or
// environment of every file, as kubectl apply does: a document that has
// not changed makes no new version. It returns the exit code: 2 when a
// document is refused.
func Apply(ctx context.Context, files []string, ro RemoteOptions) int {
	c, err := ro.client()
	if err != nil {
		fmt.Fprintln(ro.Stderr, "faultline apply:", err)
		return ExitInvalid
	}
	var applied []appliedJSON
	for _, f := range files {
		src, err := readSource(f)
		if err != nil {
			fmt.Fprintln(ro.Stderr, "faultline apply:", err)
			return ExitInvalid
		}
		a, err := c.Apply(ctx, src)
		if err != nil {
			return remoteFailure(ro.Stderr, "faultline apply "+f+":", err)
		}
		applied = append(applied, appliedJSON{Kind: a.Kind, ID: a.ID, Name: a.Name, Version: a.Version, Outcome: string(a.Outcome)})
		if ro.Output == "" {
			fmt.Fprintln(ro.Stdout, appliedLine(a))
		}
	}
	if ro.Output != "" {
		return printStructured(ro, applied)
	}
	return ExitPass
}

// appliedJSON is what apply -o json|yaml prints of each document.
type appliedJSON struct {
	Kind    string `json:"kind"`
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Outcome is created, updated or unchanged.
	Outcome string `json:"outcome"`
}

// appliedLine says what applying a document did: "experiment/x created
// (version 1)".
func appliedLine(a *client.Applied) string {
	return fmt.Sprintf("%s/%s %s (version %d)", strings.ToLower(a.Kind), a.Name, a.Outcome, a.Version)
}

// Get prints the stored experiments, runs, game days or environments (or
// the one named), as a table or as -o json|yaml.
func Get(ctx context.Context, kind, name string, ro RemoteOptions) int {
	c, err := ro.client()
	if err != nil {
		fmt.Fprintln(ro.Stderr, "faultline get:", err)
		return ExitInvalid
	}
	var (
		items  any
		header string
		rows   []string
	)
	switch kind {
	case "experiments", "experiment":
		list, err := all(ctx, c.Experiments.List, name, func(e client.Experiment) string { return e.Name })
		if err != nil {
			return remoteFailure(ro.Stderr, "faultline get:", err)
		}
		items, header = list, "ID\tNAME\tVERSION\tUPDATED\tDESCRIPTION"
		for _, e := range list {
			rows = append(rows, fmt.Sprintf("%d\t%s\t%d\t%s\t%s", e.ID, e.Name, e.Version, e.UpdatedAt.Local().Format(time.DateTime), e.Description))
		}
	case "runs", "run":
		page, err := c.Runs.List(ctx, client.RunListOptions{ListOptions: client.ListOptions{Limit: 50}})
		if err != nil {
			return remoteFailure(ro.Stderr, "faultline get:", err)
		}
		var list []client.Run
		for _, r := range page.Items {
			if name == "" || r.Experiment == name {
				list = append(list, r)
			}
		}
		items, header = list, "ID\tEXPERIMENT\tSTATUS\tVERDICT\tENVIRONMENT\tCREATED"
		for _, r := range list {
			rows = append(rows, fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s", r.ID, r.Experiment, r.Status, dash(string(r.Verdict)), dash(r.Environment), r.CreatedAt.Local().Format(time.DateTime)))
		}
	case "gamedays", "gameday":
		list, err := all(ctx, c.GameDays.List, name, func(g client.GameDay) string { return g.Name })
		if err != nil {
			return remoteFailure(ro.Stderr, "faultline get:", err)
		}
		items, header = list, "ID\tNAME\tVERSION\tLAST RUN\tDESCRIPTION"
		for _, g := range list {
			last := "-"
			if g.LastRun != nil {
				last = fmt.Sprintf("%d %s", g.LastRun.ID, g.LastRun.Status)
			}
			rows = append(rows, fmt.Sprintf("%d\t%s\t%d\t%s\t%s", g.ID, g.Name, g.Version, last, g.Description))
		}
	case "environments", "environment":
		list, err := all(ctx, c.Environments.List, name, func(e client.Environment) string { return e.Name })
		if err != nil {
			return remoteFailure(ro.Stderr, "faultline get:", err)
		}
		items, header = list, "ID\tNAME\tVERSION\tSTATE\tHELD BY"
		for _, e := range list {
			rows = append(rows, fmt.Sprintf("%d\t%s\t%d\t%s\t%s", e.ID, e.Name, e.Version, planeState(e.Plane), holderOf(e.Plane)))
		}
	default:
		fmt.Fprintf(ro.Stderr, "faultline get: %q is not experiments, runs, gamedays or environments\n", kind)
		return ExitInvalid
	}
	if name != "" && len(rows) == 0 {
		fmt.Fprintf(ro.Stderr, "faultline get: no %s is named %q\n", strings.TrimSuffix(kind, "s"), name)
		return ExitInvalid
	}
	if ro.Output != "" {
		return printStructured(ro, items)
	}
	tw := tabwriter.NewWriter(ro.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, r)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(ro.Stderr, "faultline get:", err)
		return ExitRunError
	}
	return ExitPass
}

// all reads every page of a list, keeping the item named name (all when
// name is empty).
func all[T any](ctx context.Context, list func(context.Context, client.ListOptions) (*client.Page[T], error), name string, nameOf func(T) string) ([]T, error) {
	var out []T
	opts := client.ListOptions{Limit: 500}
	for {
		page, err := list(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			if name == "" || nameOf(it) == name {
				out = append(out, it)
			}
		}
		next, ok := page.Next()
		if !ok {
			return out, nil
		}
		opts = next
	}
}

func planeState(p *client.EnvironmentPlane) string {
	switch {
	case p == nil:
		return "-"
	case p.Listening:
		return "listening"
	}
	return "not listening: " + p.Error
}

func holderOf(p *client.EnvironmentPlane) string {
	if p == nil || p.Holder == nil {
		return "-"
	}
	if p.Holder.Overlay != nil {
		return fmt.Sprintf("overlay %d", p.Holder.Overlay.ID)
	}
	return fmt.Sprintf("run %d", p.Holder.RunID)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printStructured prints v as JSON or YAML.
func printStructured(ro RemoteOptions, v any) int {
	var err error
	switch ro.Output {
	case "json":
		enc := json.NewEncoder(ro.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(v)
	case "yaml":
		// Through JSON, so the field names are the API's.
		var generic any
		if generic, err = convertJSON[any](v); err == nil {
			enc := yaml.NewEncoder(ro.Stdout)
			enc.SetIndent(2)
			err = enc.Encode(generic)
		}
	default:
		fmt.Fprintf(ro.Stderr, "faultline: -o %q: want json or yaml\n", ro.Output)
		return ExitInvalid
	}
	if err != nil {
		fmt.Fprintln(ro.Stderr, "faultline:", err)
		return ExitRunError
	}
	return ExitPass
}

// convertJSON turns v into a T through its JSON: the client's types and
// the server's share their JSON.
func convertJSON[T any](v any) (T, error) {
	var out T
	b, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	return out, err
}

// GameDayRemote starts a stored game day on the server (ref names it, or
// is a file applied first), prints each step as it starts and ends, then
// the summary, as `faultline gameday run FILE` does, and returns the exit
// code. Interrupting the command stops the game day.
func GameDayRemote(ctx context.Context, ref string, ro RemoteOptions, o GameDayOptions) int {
	const cmd = "faultline gameday run:"
	c, err := ro.client()
	if err != nil {
		fmt.Fprintln(o.Stderr, cmd, err)
		return ExitInvalid
	}
	id, code := storedRef(ctx, c, client.KindGameDay, ref,
		idByName(c.GameDays.List, func(g client.GameDay) (int64, string) { return g.ID, g.Name }), o.Stderr)
	if code != ExitPass {
		return code
	}
	run, err := c.GameDays.Start(ctx, id)
	if err != nil {
		return remoteFailure(o.Stderr, cmd, err)
	}
	lines := o.Stdout
	if o.JSON {
		lines = o.Stderr
	}
	fmt.Fprintf(lines, "game day %s: run %d started on %s\n", run.GameDay, run.ID, ro.Server)
	if events, err := c.GameDayRuns.Events(ctx, run.ID); err == nil {
		for ev := range events {
			if ev.Step == nil {
				continue
			}
			if step, err := convertJSON[gameday.StepEvent](ev.Step); err == nil {
				printStepEvent(lines, step)
			}
		}
	}
	bg := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		if err := c.GameDayRuns.Stop(bg, run.ID); err != nil && !client.IsConflict(err) {
			return remoteFailure(o.Stderr, cmd, err)
		}
	}
	wctx, cancel := context.WithTimeout(bg, time.Hour)
	defer cancel()
	if _, err := c.GameDayRuns.Wait(wctx, run.ID); err != nil {
		return remoteFailure(o.Stderr, cmd, err)
	}
	final, err := c.GameDayRuns.Get(wctx, run.ID)
	if err != nil {
		return remoteFailure(o.Stderr, cmd, err)
	}
	if o.JUnitFile != "" {
		body, err := c.GameDayRuns.JUnit(wctx, run.ID)
		if err == nil {
			err = os.WriteFile(o.JUnitFile, body, 0o644)
		}
		if err != nil {
			fmt.Fprintln(o.Stderr, cmd, "write --junit:", err)
			return ExitRunError
		}
	}
	if final.Report != nil {
		rep, err := convertJSON[gameday.Report](final.Report)
		if err != nil {
			fmt.Fprintln(o.Stderr, cmd, "read the report:", err)
			return ExitRunError
		}
		if o.JSON {
			enc := json.NewEncoder(o.Stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(rep); err != nil {
				fmt.Fprintln(o.Stderr, cmd, "write report:", err)
				return ExitRunError
			}
		} else {
			writeGameDaySummary(o.Stdout, &rep)
		}
	}
	return exitCode(string(final.Status))
}

// Lever shows the safety lever, or engages or releases it (move is
// "engage" or "release"), and returns the exit code.
func Lever(ctx context.Context, move, reason string, ro RemoteOptions) int {
	c, err := ro.client()
	if err != nil {
		fmt.Fprintln(ro.Stderr, "faultline lever:", err)
		return ExitInvalid
	}
	var l *client.Lever
	switch move {
	case "":
		l, err = c.Lever.Get(ctx)
	case "engage":
		if strings.TrimSpace(reason) == "" {
			fmt.Fprintln(ro.Stderr, "faultline lever engage: --reason is required: say why every run must stop")
			return ExitInvalid
		}
		l, err = c.Lever.Engage(ctx, reason)
	case "release":
		l, err = c.Lever.Release(ctx, reason)
	default:
		fmt.Fprintf(ro.Stderr, "faultline lever: %q is not engage or release\n", move)
		return ExitInvalid
	}
	if err != nil {
		return remoteFailure(ro.Stderr, "faultline lever:", err)
	}
	if ro.Output != "" {
		return printStructured(ro, l)
	}
	if !l.Engaged {
		fmt.Fprintln(ro.Stdout, "the safety lever is released: runs may start")
		return ExitPass
	}
	fmt.Fprintf(ro.Stdout, "the safety lever is ENGAGED since %s by %s: %s\n", l.Since.Local().Format(time.DateTime), dash(l.By), l.Reason)
	return ExitPass
}
