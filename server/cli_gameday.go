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
	"time"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/engine/gameday"
	"github.com/faultline/faultline/server/report"
)

// GameDayOptions configure a headless game day.
type GameDayOptions struct {
	// JSON prints the game-day report as JSON on Stdout; the step lines
	// then go to Stderr.
	JSON bool
	// JUnitFile, when set, receives the game day as JUnit XML.
	JUnitFile string
	Seed      int64
	Allow     []string
	Limits    experiment.Limits
	Stdout    io.Writer
	Stderr    io.Writer
	Logger    *slog.Logger
}

// RunGameDay runs the game day in path headless: it prints one line as each
// step starts and ends, then a summary (or the report as JSON), stores
// nothing, and returns the exit code: 0 pass, 1 fail, 2 invalid input
// (the game day or an experiment it names), 3 run error (a step could not
// run, or the game day was stopped).
func RunGameDay(ctx context.Context, path string, o GameDayOptions) int {
	const cmd = "faultline gameday run:"
	src, err := readSource(path)
	if err != nil {
		fmt.Fprintln(o.Stderr, cmd, err)
		return ExitInvalid
	}
	gd, err := scenarios.ParseGameDay(src)
	if err != nil {
		printInvalid(o.Stderr, err)
		return ExitInvalid
	}
	for _, w := range gd.Warnings {
		fmt.Fprintln(o.Stderr, "warning:", w)
	}
	allow, err := experiment.AllowList(o.Allow)
	if err != nil {
		fmt.Fprintln(o.Stderr, cmd, "--allow:", err)
		return ExitInvalid
	}
	if o.Limits == (experiment.Limits{}) {
		o.Limits = experiment.DefaultLimits
	}
	dir := "."
	if path != "-" {
		dir = filepath.Dir(path)
	}
	load := func(p string) (*scenarios.Document, error) {
		full := p
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, p)
		}
		src, err := readSource(full)
		if err != nil {
			return nil, err
		}
		doc, err := scenarios.Parse(src)
		if err != nil {
			return nil, err
		}
		for _, w := range doc.Warnings {
			fmt.Fprintf(o.Stderr, "warning: %s: %s\n", p, w)
		}
		if err := experiment.Admit(doc, allow, o.Limits); err != nil {
			return nil, err
		}
		return doc, nil
	}
	lines := o.Stdout
	if o.JSON {
		lines = o.Stderr
	}
	fmt.Fprintf(lines, "game day %s: %d step(s), steady state %s, onFailure %s\n", gd.Metadata.Name, len(gd.Spec.Steps), gd.Spec.SteadyState, gd.Spec.FailurePolicy())
	rep, err := gameday.Run(ctx, gd, load, experiment.Options{Seed: o.Seed, AllowTarget: allow, Limits: o.Limits, Logger: o.Logger},
		func(ev gameday.StepEvent) { printStepEvent(lines, ev) })
	if err != nil {
		var invalid *scenarios.InvalidError
		if errors.As(err, &invalid) {
			printInvalid(o.Stderr, err)
			return ExitInvalid
		}
		fmt.Fprintln(o.Stderr, cmd, err)
		return ExitRunError
	}
	if o.JUnitFile != "" {
		body, err := gameday.JUnit(rep)
		if err == nil {
			err = os.WriteFile(o.JUnitFile, body, 0o644)
		}
		if err != nil {
			fmt.Fprintln(o.Stderr, cmd, "write --junit:", err)
			return ExitRunError
		}
	}
	if o.JSON {
		enc := json.NewEncoder(o.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(o.Stderr, cmd, "write report:", err)
			return ExitRunError
		}
	} else {
		writeGameDaySummary(o.Stdout, rep)
	}
	switch rep.Status {
	case report.StatusSucceeded:
		return ExitPass
	case report.StatusFailed:
		return ExitFail
	}
	return ExitRunError
}

// printInvalid lists the problems of an *scenarios.InvalidError, or the error.
func printInvalid(w io.Writer, err error) {
	var invalid *scenarios.InvalidError
	if !errors.As(err, &invalid) {
		fmt.Fprintln(w, "error:", err)
		return
	}
	for _, p := range invalid.Problems {
		fmt.Fprintln(w, "error:", p)
	}
	for _, p := range invalid.Warnings {
		fmt.Fprintln(w, "warning:", p)
	}
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
