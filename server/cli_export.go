package server

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/faultline/faultline/server/export"
)

// ExportOptions configure `faultline export`.
type ExportOptions struct {
	// Namespace and Domain are export.Options'.
	Namespace string
	Domain    string
	// Out is the file written; "" or "-" is stdout.
	Out string
}

// Export writes the experiment in path as a real mesh takes it (see
// package export): its Istio resources and the Job of its load, one YAML
// stream for `kubectl apply -f -`. Warnings of the document go to stderr.
// It returns ExitPass, ExitInvalid for an invalid document or option, or
// ExitRunError when the stream cannot be written.
func Export(path string, o ExportOptions, stdout, stderr io.Writer) int {
	doc, code := readDocument(path, stderr)
	if doc == nil {
		return code
	}
	for _, w := range doc.Warnings {
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
