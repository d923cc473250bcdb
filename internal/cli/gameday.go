package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/client"
	"github.com/faultline/faultline/internal/input"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/engine/gameday"
	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/safety"
)

func gamedayCommand() *cobra.Command {
	var flags runFlags
	run := &cobra.Command{
		Use:   "run FILE | --server URL NAME|FILE",
		Short: "Run a game day headless and print each step and a summary",
		Long: "Run the game day in FILE (kind GameDay): the steady-state check, the steps in order (parallel groups\n" +
			"at once, each experiment on its own proxy), then the steady-state check again. Experiment paths are\n" +
			"relative to FILE. A steady state that fails before the first step stops the game day with nothing\n" +
			"injected. Exit codes: 0 pass, 1 fail, 2 invalid input, 3 run error.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := flags.options(cmd)
			if flags.server != "" {
				return exit(runGameDayRemote(cmd.Context(), args[0], newRemoteOptions(cmd, flags.server, ""), o))
			}
			return exit(runGameDayFile(cmd.Context(), args[0], o))
		},
	}
	flags.add(run, runFlagHelp{
		json:   "print the game-day report as JSON (step lines go to standard error)",
		junit:  "write JUnit XML (one test case per step and steady-state check) to this file",
		seed:   "seed for fault and routing draws of every experiment; 0 uses spec.seed or a fresh one",
		server: "run on this Faultline server (its token in FAULTLINE_TOKEN): NAME is a stored game day, a FILE is applied first",
	})
	cmd := &cobra.Command{
		Use:   "gameday",
		Short: "Game days: ordered experiments framed by steady-state checks",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(run)
	return cmd
}

// runGameDayFile runs the game day in path headless: it prints one line as
// each step starts and ends, then a summary (or the report as JSON), stores
// nothing, and returns the exit code: 0 pass, 1 fail, 2 invalid input
// (the game day or an experiment it names), 3 run error (a step could not
// run, or the game day was stopped).
func runGameDayFile(ctx context.Context, path string, o runOptions) int {
	const cmd = "faultline gameday run:"
	src, err := input.ReadSource(path)
	if err != nil {
		fmt.Fprintln(o.Stderr, cmd, err)
		return ExitInvalid
	}
	gd, err := scenarios.ParseGameDay(src)
	if err != nil {
		input.PrintInvalid(o.Stderr, err)
		return ExitInvalid
	}
	for _, w := range gd.Warnings {
		fmt.Fprintln(o.Stderr, "warning:", w)
	}
	allow, err := safety.AllowList(o.Allow)
	if err != nil {
		fmt.Fprintln(o.Stderr, cmd, "--allow:", err)
		return ExitInvalid
	}
	if o.Limits == (safety.Limits{}) {
		o.Limits = safety.DefaultLimits
	}
	load := func(p string) (*scenarios.Document, error) {
		doc, err := readStepExperiment(path, p)
		if err != nil {
			return nil, err
		}
		for _, w := range doc.Warnings {
			fmt.Fprintf(o.Stderr, "warning: %s: %s\n", p, w)
		}
		if err := safety.Admit(doc, allow, o.Limits); err != nil {
			return nil, err
		}
		return doc, nil
	}
	lines := stepLines(o)
	fmt.Fprintf(lines, "game day %s: %d step(s), steady state %s, onFailure %s\n", gd.Metadata.Name, len(gd.Spec.Steps), gd.Spec.SteadyState, gd.Spec.FailurePolicy())
	rep, err := gameday.Run(ctx, gd, load, experiment.Options{Seed: o.Seed, AllowTarget: allow, Limits: o.Limits, Logger: o.Logger},
		func(ev gameday.StepEvent) { printStepEvent(lines, ev) })
	if err != nil {
		var invalid *scenarios.InvalidError
		if errors.As(err, &invalid) {
			input.PrintInvalid(o.Stderr, err)
			return ExitInvalid
		}
		fmt.Fprintln(o.Stderr, cmd, err)
		return ExitRunError
	}
	if code := writeGameDayJUnit(o, func() ([]byte, error) { return gameday.JUnit(rep) }); code != ExitPass {
		return code
	}
	if code := printGameDayReport(o, rep); code != ExitPass {
		return code
	}
	return exitCode(string(rep.Status))
}

// runGameDayRemote starts a stored game day on the server (ref names it,
// or is a file applied first), prints each step as it starts and ends,
// then the summary, as runGameDayFile does, and returns the exit code.
// Interrupting the command stops the game day.
func runGameDayRemote(ctx context.Context, ref string, ro remoteOptions, o runOptions) int {
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
	lines := stepLines(o)
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
	if code := writeGameDayJUnit(o, func() ([]byte, error) { return c.GameDayRuns.JUnit(wctx, run.ID) }); code != ExitPass {
		return code
	}
	if final.Report != nil {
		rep, err := convertJSON[gameday.Report](final.Report)
		if err != nil {
			fmt.Fprintln(o.Stderr, cmd, "read the report:", err)
			return ExitRunError
		}
		if code := printGameDayReport(o, &rep); code != ExitPass {
			return code
		}
	}
	return exitCode(string(final.Status))
}

// stepLines is where a game day's step lines go: standard output, or
// standard error when the report goes out as JSON.
func stepLines(o runOptions) io.Writer {
	if o.JSON {
		return o.Stderr
	}
	return o.Stdout
}

// writeGameDayJUnit writes the JUnit XML junit makes to --junit, when
// o asks for it; it returns ExitPass when it wrote (or had nothing to).
func writeGameDayJUnit(o runOptions, junit func() ([]byte, error)) int {
	if o.JUnitFile == "" {
		return ExitPass
	}
	body, err := junit()
	if err == nil {
		err = os.WriteFile(o.JUnitFile, body, 0o644)
	}
	if err != nil {
		fmt.Fprintln(o.Stderr, "faultline gameday run: write --junit:", err)
		return ExitRunError
	}
	return ExitPass
}

// printGameDayReport prints a game day's report as JSON or as a summary;
// it returns ExitPass when it printed.
func printGameDayReport(o runOptions, rep *gameday.Report) int {
	if !o.JSON {
		writeGameDaySummary(o.Stdout, rep)
		return ExitPass
	}
	if err := writeJSON(o.Stdout, rep); err != nil {
		fmt.Fprintln(o.Stderr, "faultline gameday run: write report:", err)
		return ExitRunError
	}
	return ExitPass
}

// stepLabel names a step: its ID, kind and what it runs.
func stepLabel(s gameday.Step) string {
	label := s.ID + " " + s.Kind
	switch {
	case s.Action != nil:
		label += " " + gameday.ActionLabel(&s)
	case s.Name != "":
		label += fmt.Sprintf(" %s (%s)", s.Name, s.Path)
	case s.Path != "":
		label += " " + s.Path
	case s.Wait != "":
		label += " " + s.Wait
	}
	return label
}

func printStepEvent(w io.Writer, ev gameday.StepEvent) {
	if ev.Start {
		fmt.Fprintf(w, "start  %s\n", stepLabel(ev.Step))
		return
	}
	line := fmt.Sprintf("end    %s: %s", stepLabel(ev.Step), ev.Step.Status)
	if ev.Step.Verdict != report.VerdictNone {
		line += ", verdict " + ev.Step.Verdict
	}
	switch {
	case ev.Step.Kind != scenarios.StepAction:
		line += " in " + ev.Step.EndedAt.Sub(ev.Step.StartedAt).Round(time.Millisecond).String()
	case ev.Step.StartedAt.IsZero():
		line += ", not taken"
	default: // an action is a moment
		line += " at " + ev.Step.StartedAt.Local().Format("15:04:05.000")
	}
	if ev.Step.Reason != "" {
		line += " (" + ev.Step.Reason + ")"
	}
	fmt.Fprintln(w, line)
}

// writeGameDaySummary prints the verdict and one line per step and check.
func writeGameDaySummary(w io.Writer, rep *gameday.Report) {
	fmt.Fprintf(w, "\ngame day %s: %s (%s) in %s\n", rep.GameDay, rep.Verdict, rep.Status, rep.EndedAt.Sub(rep.StartedAt).Round(time.Millisecond))
	row := func(s *gameday.Step, indent string) {
		if s == nil {
			return
		}
		line := fmt.Sprintf("  %s%-10s %-7s %s", indent, s.Status, s.Verdict, stepLabel(*s))
		if s.Report != nil {
			line += fmt.Sprintf(" — %d requests, codes %s", s.Report.Requests, report.CodesSummary(s.Report.Codes))
		}
		fmt.Fprintln(w, line)
	}
	row(rep.SteadyStateBefore, "")
	for i := range rep.Steps {
		row(&rep.Steps[i], "")
		for j := range rep.Steps[i].Steps {
			row(&rep.Steps[i].Steps[j], "  ")
		}
	}
	row(rep.SteadyStateAfter, "")
	if rep.Reason != "" {
		fmt.Fprintln(w, "reason:", rep.Reason)
	}
}

// readStepExperiment reads and parses the experiment file p a step of the
// game day in gameDayPath names: relative to the game day's directory (the
// working directory for standard input).
func readStepExperiment(gameDayPath, p string) (*scenarios.Document, error) {
	if !filepath.IsAbs(p) {
		dir := "."
		if gameDayPath != "-" {
			dir = filepath.Dir(gameDayPath)
		}
		p = filepath.Join(dir, p)
	}
	src, err := input.ReadSource(p)
	if err != nil {
		return nil, err
	}
	return scenarios.Parse(src)
}
