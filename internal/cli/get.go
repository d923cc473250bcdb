package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/client"
)

func getCommand() *cobra.Command {
	var url, output string
	cmd := &cobra.Command{
		Use:       "get experiments|runs|gamedays|environments [NAME]",
		Short:     "List what a server stores (runs: the latest 50, of experiment NAME when given)",
		Args:      cobra.RangeArgs(1, 2),
		ValidArgs: []string{"experiments", "runs", "gamedays", "environments"},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			return exit(get(cmd.Context(), args[0], name, newRemoteOptions(cmd, url, output)))
		},
	}
	serverFlags(cmd, &url, &output)
	return cmd
}

// get prints the stored experiments, runs, game days or environments (or
// the one named), as a table or as -o json|yaml.
func get(ctx context.Context, kind, name string, ro remoteOptions) int {
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
