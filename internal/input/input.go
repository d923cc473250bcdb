// Package input reads what Faultline's commands are given: a document
// from a file or standard input, bounded in size, and the TLS credentials
// directory; and it prints a document's problems as the commands report
// them.
package input

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/faultline/faultline/scenarios"
)

// ReadSource reads a document from a file, or standard input for "-",
// refusing one larger than scenarios.MaxSourceBytes.
func ReadSource(path string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	src, err := io.ReadAll(io.LimitReader(r, scenarios.MaxSourceBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(src) > scenarios.MaxSourceBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, scenarios.MaxSourceBytes)
	}
	return src, nil
}

// PrintInvalid lists the problems of an *scenarios.InvalidError, or the
// error.
func PrintInvalid(w io.Writer, err error) {
	var invalid *scenarios.InvalidError
	if !errors.As(err, &invalid) {
		fmt.Fprintln(w, "error:", err)
		return
	}
	for _, p := range invalid.Problems {
		fmt.Fprintln(w, "error:", p)
	}
	for _, p := range invalid.Warnings {
		fmt.Fprintln(w, "warning:", p)
	}
}

// CredentialsDirHelp is the help of --credentials-dir (run, serve, proxy,
// validate, faultline-proxy).
const CredentialsDirHelp = "directory of the TLS credentials Gateway servers and DestinationRules name: <credentialName>/tls.crt, tls.key, ca.crt, or file paths inside it; unset, terminating gateways present certificates of the run's own CA"

// CredentialsFS opens the credentials directory; "" is none.
func CredentialsFS(dir string) (fs.FS, error) {
	if dir == "" {
		return nil, nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("--credentials-dir: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("--credentials-dir: %s is not a directory", dir)
	}
	return os.DirFS(dir), nil
}
