package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/scenarios"
)

func scenariosCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "scenarios",
		Short: "List the shipped example experiments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			examples, err := scenarios.Examples()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, ex := range examples {
				fmt.Fprintf(w, "%-28s scenarios/%-30s %s\n", ex.Name, ex.File, ex.Description)
			}
			return nil
		},
	}
}
