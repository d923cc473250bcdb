package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/client"
	"github.com/faultline/faultline/internal/input"
)

func applyCommand() *cobra.Command {
	var url, output string
	var files []string
	cmd := &cobra.Command{
		Use:   "apply -f FILE...",
		Short: "Create or update experiments, game days and environments on a server, by name",
		Long: "Store every document (an Experiment, a GameDay or an Environment) on the server: created when no\n" +
			"stored one has its metadata.name, updated (a new version) when it changed, left alone when it did not,\n" +
			"as kubectl apply does. Exit codes: 0 applied, 2 a document was refused (every problem is listed).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return exitError{Code: ExitInvalid}
			}
			return exit(apply(cmd.Context(), files, newRemoteOptions(cmd, url, output)))
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "a document to apply (- for standard input); repeatable")
	_ = cmd.MarkFlagRequired("filename")
	serverFlags(cmd, &url, &output)
	return cmd
}

// apply creates or updates, by metadata.name, the experiment, game day or
// environment of every file, as kubectl apply does: a document that has
// not changed makes no new version. It returns the exit code: 2 when a
// document is refused.
func apply(ctx context.Context, files []string, ro remoteOptions) int {
	c, err := ro.client()
	if err != nil {
		fmt.Fprintln(ro.Stderr, "faultline apply:", err)
		return ExitInvalid
	}
	var applied []appliedJSON
	for _, f := range files {
		src, err := input.ReadSource(f)
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
