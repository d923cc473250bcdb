package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/scenarios"
)

func validateCommand() *cobra.Command {
	var environment string
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check an experiment or environment file and list every error and warning",
		Long: "Parse and validate FILE (- for standard input) as Istio would, plus Faultline's own rules: an Experiment,\n" +
			"or an Environment and its baseline. An experiment on an environment (spec.environment) is checked laid over\n" +
			"that environment's baseline when --environment names its file. Exit 0 when valid (warnings allowed), 2 when not.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exit(validate(args[0], environment, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVar(&environment, "environment", "", "the Environment file an experiment with spec.environment runs on")
	return cmd
}

// validate prints every problem of the document in path (an experiment, or
// an environment) and returns 0 when it is valid (warnings allowed) or 2
// when it is not. environment, when set, is the file of the environment an
// experiment runs on: the experiment is checked laid over its baseline.
func validate(path, environment string, stdout, stderr io.Writer) int {
	src, err := readSource(path)
	if err != nil {
		fmt.Fprintln(stderr, "faultline validate:", err)
		return ExitInvalid
	}
	problems := scenarios.Lint(src)
	if environment != "" {
		envSrc, err := readSource(environment)
		if err != nil {
			fmt.Fprintln(stderr, "faultline validate: --environment:", err)
			return ExitInvalid
		}
		env, err := scenarios.ParseEnvironment(envSrc)
		if err != nil {
			fmt.Fprintf(stderr, "faultline validate: --environment %s: %v\n", environment, err)
			return ExitInvalid
		}
		problems = scenarios.LintOn(src, env)
	}
	for _, p := range problems {
		fmt.Fprintf(stdout, "%s: %s\n", p.Severity, p)
	}
	if n := len(problems.Errors()); n > 0 {
		fmt.Fprintf(stdout, "%s: invalid, %d error(s), %d warning(s)\n", path, n, len(problems.Warnings()))
		return ExitInvalid
	}
	fmt.Fprintf(stdout, "%s: valid, %d warning(s)\n", path, len(problems.Warnings()))
	return ExitPass
}
