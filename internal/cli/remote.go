package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/faultline/faultline/client"
	"github.com/faultline/faultline/internal/input"
)

// defaultServer is the server the remote commands talk to when neither
// --server nor FAULTLINE_SERVER names one.
const defaultServer = "http://127.0.0.1:8080"

// remoteOptions configure the commands that act on a Faultline server:
// run and gameday run with --server, apply, get and lever.
type remoteOptions struct {
	// Server is the server's base URL; Token its bearer token ("" for a
	// loopback server without tokens).
	Server, Token string
	// Output is how results print: "" (text), "json" or "yaml".
	Output string
	Stdout io.Writer
	Stderr io.Writer
}

func (o remoteOptions) client() (*client.Client, error) {
	var opts []client.Option
	if o.Token != "" {
		opts = append(opts, client.WithToken(o.Token))
	}
	return client.New(o.Server, opts...)
}

// newRemoteOptions are the options of a command that talks to a server:
// url (--server, FAULTLINE_SERVER, else the local default), the token
// from FAULTLINE_TOKEN (never a flag: a flag shows in the process list),
// and the output format.
func newRemoteOptions(cmd *cobra.Command, url, output string) remoteOptions {
	if url == "" {
		url = defaultServer
	}
	return remoteOptions{Server: url, Token: os.Getenv("FAULTLINE_TOKEN"), Output: output,
		Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
}

// serverFlags adds --server and -o to a command that talks to a server.
func serverFlags(cmd *cobra.Command, url, output *string) {
	cmd.Flags().StringVar(url, "server", os.Getenv("FAULTLINE_SERVER"), "the Faultline server (default "+defaultServer+"); its token in FAULTLINE_TOKEN")
	cmd.Flags().StringVarP(output, "output", "o", "", "print json or yaml instead of text")
}

// storedRef finds the stored document of kind (client.KindExperiment or
// KindGameDay) that ref names, applying it first when ref is a file (or -
// for standard input); find looks a name up among the stored ones.
func storedRef(ctx context.Context, c *client.Client, kind, ref string, find func(ctx context.Context, name string) (int64, error), stderr io.Writer) (int64, int) {
	if ref == "-" || fileExists(ref) {
		src, err := input.ReadSource(ref)
		if err != nil {
			fmt.Fprintln(stderr, "faultline:", err)
			return 0, ExitInvalid
		}
		a, err := c.Apply(ctx, src)
		if err != nil {
			return 0, remoteFailure(stderr, "faultline: apply "+ref+":", err)
		}
		if a.Kind != kind {
			fmt.Fprintf(stderr, "faultline: %s holds a %s, not a %s\n", ref, a.Kind, kind)
			return 0, ExitInvalid
		}
		fmt.Fprintln(stderr, appliedLine(a))
		return a.ID, ExitPass
	}
	id, err := find(ctx, ref)
	if err != nil {
		return 0, remoteFailure(stderr, "faultline:", err)
	}
	if id == 0 {
		fmt.Fprintf(stderr, "faultline: no stored %s is named %q, and there is no such file\n", strings.ToLower(kind), ref)
		return 0, ExitInvalid
	}
	return id, ExitPass
}

// idByName looks a stored document up by name among what list lists;
// head reads an item's id and name. The id is 0 when none has the name.
func idByName[T any](list func(context.Context, client.ListOptions) (*client.Page[T], error), head func(T) (int64, string)) func(context.Context, string) (int64, error) {
	return func(ctx context.Context, name string) (int64, error) {
		items, err := all(ctx, list, name, func(it T) string { _, n := head(it); return n })
		if err != nil || len(items) == 0 {
			return 0, err
		}
		id, _ := head(items[0])
		return id, nil
	}
}

// remoteFailure prints a refusal of the server (every problem of a refused
// document) and returns its exit code: 2 for bad input, 3 for the rest.
func remoteFailure(stderr io.Writer, prefix string, err error) int {
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		fmt.Fprintln(stderr, prefix, err)
		return ExitRunError
	}
	if len(apiErr.Problems) > 0 {
		for _, p := range apiErr.Problems {
			fmt.Fprintf(stderr, "%s: %s\n", p.Severity, p)
		}
	} else {
		fmt.Fprintln(stderr, prefix, apiErr.Message)
	}
	switch apiErr.StatusCode {
	case 400, 401, 403, 404, 413, 415, 422:
		return ExitInvalid // the input, or the token, needs changing
	}
	return ExitRunError
}

// all reads every page of a list, keeping the item named name (all when
// name is empty).
func all[T any](ctx context.Context, list func(context.Context, client.ListOptions) (*client.Page[T], error), name string, nameOf func(T) string) ([]T, error) {
	var out []T
	opts := client.ListOptions{Limit: 500}
	for {
		page, err := list(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			if name == "" || nameOf(it) == name {
				out = append(out, it)
			}
		}
		next, ok := page.Next()
		if !ok {
			return out, nil
		}
		opts = next
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printStructured prints v as JSON or YAML.
func printStructured(ro remoteOptions, v any) int {
	var err error
	switch ro.Output {
	case "json":
		err = writeJSON(ro.Stdout, v)
	case "yaml":
		// Through JSON, so the field names are the API's.
		var generic any
		if generic, err = convertJSON[any](v); err == nil {
			enc := yaml.NewEncoder(ro.Stdout)
			enc.SetIndent(2)
			err = enc.Encode(generic)
		}
	default:
		fmt.Fprintf(ro.Stderr, "faultline: -o %q: want json or yaml\n", ro.Output)
		return ExitInvalid
	}
	if err != nil {
		fmt.Fprintln(ro.Stderr, "faultline:", err)
		return ExitRunError
	}
	return ExitPass
}

// convertJSON turns v into a T through its JSON: the client's types and
// the server's share their JSON.
func convertJSON[T any](v any) (T, error) {
	var out T
	b, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	return out, err
}
