package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/server"
)

// remoteOptions are the options of a command that talks to a server:
// url (--server, FAULTLINE_SERVER, else the local default), the token
// from FAULTLINE_TOKEN (never a flag: a flag shows in the process list),
// and the output format.
func remoteOptions(cmd *cobra.Command, url, output string) server.RemoteOptions {
	if url == "" {
		url = server.DefaultServer
	}
	return server.RemoteOptions{Server: url, Token: os.Getenv("FAULTLINE_TOKEN"), Output: output,
		Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
}

// serverFlags adds --server and -o to a command that talks to a server.
func serverFlags(cmd *cobra.Command, url, output *string) {
	cmd.Flags().StringVar(url, "server", os.Getenv("FAULTLINE_SERVER"), "the Faultline server (default "+server.DefaultServer+"); its token in FAULTLINE_TOKEN")
	cmd.Flags().StringVarP(output, "output", "o", "", "print json or yaml instead of text")
}

func exit(code int) error {
	if code != server.ExitPass {
		return exitError{code}
	}
	return nil
}

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
				return exitError{server.ExitInvalid}
			}
			return exit(server.Apply(cmd.Context(), files, remoteOptions(cmd, url, output)))
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "a document to apply (- for standard input); repeatable")
	_ = cmd.MarkFlagRequired("filename")
	serverFlags(cmd, &url, &output)
	return cmd
}

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
			return exit(server.Get(cmd.Context(), args[0], name, remoteOptions(cmd, url, output)))
		},
	}
	serverFlags(cmd, &url, &output)
	return cmd
}

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
			return exit(server.Lever(cmd.Context(), move, reason, remoteOptions(cmd, url, output)))
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the lever moves (required to engage)")
	serverFlags(cmd, &url, &output)
	return cmd
}
