// Package cli is Faultline's command line: one file per command, each
// with its cobra definition, its flags and its body, as gitea's cmd/ is
// laid out. The binary (cmd/faultline) only hands it the arguments and a
// context that ends on SIGINT or SIGTERM; `faultline serve` hands over to
// package server, which assembles the service.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/input"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/safety"
)

// Exit codes of the commands (docs/architecture.md, Exit codes), as
// package exitcode defines them.
const (
	ExitPass     = exitcode.Pass
	ExitFail     = exitcode.Fail
	ExitInvalid  = exitcode.Invalid
	ExitRunError = exitcode.RunError
)

// Main runs the command args name (os.Args[1:]) until it ends or ctx
// does, and returns the process's exit code.
func Main(ctx context.Context, args []string) int {
	root := rootCommand()
	root.SetArgs(args)
	return exitcode.FromError(root.ExecuteContext(ctx), os.Stderr, "faultline")
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "faultline",
		Short:         "Chaos and resilience experiments through an Istio-compatible proxy, with fortio load",
		Long:          "Faultline stores experiments (Istio VirtualService and DestinationRule YAML plus load and a hypothesis),\nruns them through its own routing proxy with fortio load, and records what came back.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), runCommand(), validateCommand(), proxyCommand(), demoCommand(), scenariosCommand(), compareCommand(), gamedayCommand(),
		applyCommand(), getCommand(), leverCommand())
	root.AddCommand(exportCommand())
	root.AddCommand(agentCommand())
	return root
}

// exitError carries a process exit code out of a command.
type exitError = exitcode.Error

// exit is the error a command returns for its exit code: nil for ExitPass.
func exit(code int) error { return exitcode.Of(code) }

func logger(verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// writeJSON writes v to w as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

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
	allow, err := safety.AllowList(entries)
	if err != nil {
		fmt.Fprintf(stderr, "faultline %s: --allow: %v\n", command, err)
		return nil, nil, ExitInvalid
	}
	if err := safety.CheckTargets(doc, allow); err != nil {
		fmt.Fprintf(stderr, "faultline %s: %v\n", command, err)
		return nil, nil, ExitInvalid
	}
	return doc, allow, ExitPass
}

// readDocument reads and parses path, printing problems; a nil document
// comes with the exit code to return.
func readDocument(path string, stderr io.Writer) (*scenarios.Document, int) {
	src, err := input.ReadSource(path)
	if err != nil {
		fmt.Fprintln(stderr, "faultline:", err)
		return nil, ExitInvalid
	}
	doc, err := scenarios.Parse(src)
	var invalid *scenarios.InvalidError
	if errors.As(err, &invalid) {
		input.PrintInvalid(stderr, err)
		return nil, ExitInvalid
	}
	if err != nil {
		fmt.Fprintln(stderr, "faultline:", err)
		return nil, ExitInvalid
	}
	return doc, ExitPass
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

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
