package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/server/export"
)

func exportCommand() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export FILE",
		Short: "Write an experiment as Istio resources and a fortio Job for kubectl apply -f -",
		Long: "Write the experiment in FILE (- for standard input) as a real mesh takes it, one YAML stream for\n" +
			"kubectl apply -f -: its Istio resources as written, in apply order, each in --namespace unless it names\n" +
			"one, then a batch/v1 Job that sends its load with fortio. What only Faultline acts on (spec.services,\n" +
			"spec.hypothesis, …) is left out and named in a comment at the top. Exit 0, or 2 when FILE is invalid.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exit(exportFile(args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Namespace, "namespace", "default", "Kubernetes namespace of the Job and of every resource that names none")
	f.StringVar(&o.Domain, "domain", "cluster.local", "the cluster's DNS domain, for the Job's target URL")
	f.StringVar(&o.Out, "out", "-", "file to write (- for standard output)")
	return cmd
}

// exportOptions configure `faultline export`.
type exportOptions struct {
	// Namespace and Domain are export.Options'.
	Namespace string
	Domain    string
	// Out is the file written; "" or "-" is stdout.
	Out string
}

// exportFile writes the experiment in path as a real mesh takes it (see
// package export): its Istio resources and the Job of its load, one YAML
// stream for `kubectl apply -f -`. Warnings of the document go to stderr.
// It returns ExitPass, ExitInvalid for an invalid document or option, or
// ExitRunError when the stream cannot be written.
func exportFile(path string, o exportOptions, stdout, stderr io.Writer) int {
	doc, code := readDocument(path, stderr)
	if doc == nil {
		return code
	}
	for _, w := range doc.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	for _, w := range export.Warnings(doc) {
		fmt.Fprintln(stderr, "warning:", w)
	}
	out, err := export.Stream(doc, export.Options{Namespace: o.Namespace, Domain: o.Domain})
	var bad *export.OptionError
	if errors.As(err, &bad) {
		fmt.Fprintf(stderr, "faultline export: --%s %s\n", bad.Field, bad.Reason)
		return ExitInvalid
	}
	if err != nil {
		fmt.Fprintln(stderr, "faultline export:", err)
		return ExitRunError
	}
	if o.Out == "" || o.Out == "-" {
		_, err = stdout.Write(out)
	} else {
		err = os.WriteFile(o.Out, out, 0o644)
	}
	if err != nil {
		fmt.Fprintln(stderr, "faultline export:", err)
		return ExitRunError
	}
	return ExitPass
}
