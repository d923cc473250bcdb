package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/client"
)

func leverCommand() *cobra.Command {
	var url, output, reason string
	cmd := &cobra.Command{
		Use:   "lever [engage --reason TEXT | release]",
		Short: "Show, engage or release a server's safety lever",
		Long: "Without an argument, show the safety lever. engage halts every run, game day and overlay on the\n" +
			"server and refuses new ones until release; --reason is required to engage.",
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{"engage", "release"},
		RunE: func(cmd *cobra.Command, args []string) error {
			move := ""
			if len(args) == 1 {
				move = args[0]
			}
			return exit(lever(cmd.Context(), move, reason, newRemoteOptions(cmd, url, output)))
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the lever moves (required to engage)")
	serverFlags(cmd, &url, &output)
	return cmd
}

// lever shows the safety lever, or engages or releases it (move is
// "engage" or "release"), and returns the exit code.
func lever(ctx context.Context, move, reason string, ro remoteOptions) int {
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
