package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/input"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/engine/experiment"
	"github.com/faultline/faultline/server/safety"
)

func validateCommand() *cobra.Command {
	var o validateOptions
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check experiment, environment or game-day files and list every error and warning",
		Long: "Check each FILE (- for standard input) as a run would before sending any load, starting nothing and\n" +
			"dialling nothing: an Experiment parsed and validated as Istio would, plus Faultline's own rules, the\n" +
			"safety policy (load ceilings, the target allow-list of --allow) and the proxy's compilation (with\n" +
			"--credentials-dir), and an error where the load's own request would reach a destination that cannot\n" +
			"take it here (a host no service binds, a ServiceEntry that resolves by DNS): the run would refuse it\n" +
			"with the same words. An Environment and its baseline, and a GameDay with the experiment files it\n" +
			"names, are recognised by their kind. An experiment on an environment (spec.environment) is checked\n" +
			"laid over that environment's baseline when --environment names its file. Each problem names its\n" +
			"document, field and line; a cause is listed before the problems it causes.\n" +
			"Exit 0 when every file is valid (warnings allowed), 2 when one is not.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code := ExitPass
			for _, path := range args {
				if c := validate(path, o, cmd.OutOrStdout(), cmd.ErrOrStderr()); c != ExitPass {
					code = c
				}
			}
			return exit(code)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.environment, "environment", "", "the Environment file an experiment with spec.environment runs on")
	f.StringSliceVar(&o.allow, "allow", nil, "widen the target allow-list beyond loopback, as run and serve take it")
	f.StringVar(&o.credentialsDir, "credentials-dir", "", input.CredentialsDirHelp)
	return cmd
}

// validateOptions are validate's flags.
type validateOptions struct {
	environment    string
	allow          []string
	credentialsDir string
}

// checkOptions are the options of experiment.Check a headless run would
// use: the allow-list, the default ceilings, the credentials directory.
func (o validateOptions) checkOptions() (experiment.Options, error) {
	allow, err := safety.AllowList(o.allow)
	if err != nil {
		return experiment.Options{}, fmt.Errorf("--allow: %w", err)
	}
	creds, err := input.CredentialsFS(o.credentialsDir)
	if err != nil {
		return experiment.Options{}, err
	}
	return experiment.Options{AllowTarget: allow, Limits: safety.DefaultLimits, Credentials: creds}, nil
}

// validate prints every problem of the file at path (an experiment, an
// environment or a game day) and returns 0 when it is valid (warnings
// allowed) or 2 when it is not.
func validate(path string, o validateOptions, stdout, stderr io.Writer) int {
	src, err := input.ReadSource(path)
	if err != nil {
		fmt.Fprintln(stderr, "faultline validate:", err)
		return ExitInvalid
	}
	opts, err := o.checkOptions()
	if err != nil {
		fmt.Fprintln(stderr, "faultline validate:", err)
		return ExitInvalid
	}
	var problems scenarios.Problems
	switch {
	case scenarios.IsGameDay(src):
		problems = validateGameDay(path, src, opts)
	case scenarios.IsEnvironment(src):
		problems = scenarios.Lint(src)
		if len(problems.Errors()) == 0 {
			if doc, err := scenarios.ParseEnvironment(src); err == nil {
				problems = append(problems, experiment.Check(doc, opts)...)
			}
		}
	default:
		var env *scenarios.Document
		if o.environment != "" {
			envSrc, err := input.ReadSource(o.environment)
			if err != nil {
				fmt.Fprintln(stderr, "faultline validate: --environment:", err)
				return ExitInvalid
			}
			if env, err = scenarios.ParseEnvironment(envSrc); err != nil {
				fmt.Fprintf(stderr, "faultline validate: --environment %s: %v\n", o.environment, err)
				return ExitInvalid
			}
		}
		problems = checkExperiment(src, env, opts)
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

// checkExperiment is every problem of an experiment's source (laid over
// env when set): the document's own, then what a run would find before
// its load (experiment.Check).
func checkExperiment(src []byte, env *scenarios.Document, opts experiment.Options) scenarios.Problems {
	doc, problems := scenarios.Examine(src, env)
	if doc == nil {
		return problems
	}
	return append(problems, experiment.Check(doc, opts)...)
}

// validateGameDay is every problem of a game-day file: its own, and those
// of each experiment file it names (resolved relative to it), each
// checked as its run would check it.
func validateGameDay(path string, src []byte, opts experiment.Options) scenarios.Problems {
	gd, err := scenarios.ParseGameDay(src)
	var invalid *scenarios.InvalidError
	if errors.As(err, &invalid) {
		return append(append(scenarios.Problems(nil), invalid.Problems...), invalid.Warnings...)
	}
	if err != nil {
		return scenarios.Problems{{Severity: scenarios.SeverityError, Message: err.Error()}}
	}
	problems := append(scenarios.Problems(nil), gd.Warnings...)
	load := func(p string) (*scenarios.Document, error) {
		doc, err := readStepExperiment(path, p)
		if err != nil {
			return nil, err
		}
		found := experiment.Check(doc, opts)
		if err := experiment.CheckError(found); err != nil {
			return nil, err
		}
		for _, w := range append(doc.Warnings, found...) {
			w.Message = p + ": " + w.Message
			problems = append(problems, w)
		}
		return doc, nil
	}
	if _, err := scenarios.ResolveGameDay(gd, load); err != nil {
		if errors.As(err, &invalid) {
			return append(problems, invalid.Problems...)
		}
		return append(problems, scenarios.Problem{Severity: scenarios.SeverityError, Document: "GameDay " + gd.Metadata.Name, Message: err.Error()})
	}
	return problems
}
