package tc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeArgs(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "staging.yaml")
	if err := os.WriteFile(envFile, []byte("kind: Environment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts []Option
		want string
	}{
		{"defaults: an empty server on the host's network", nil,
			"serve --addr A --db /data/faultline.db --no-examples"},
		{"the examples, when asked for", []Option{WithExamples()},
			"serve --addr A --db /data/faultline.db"},
		{"each option's flags, repeated, extra flags last",
			[]Option{WithAllow("10.0.0.0/8", "ratings"), WithAllowHost("faultline.test"), WithEnvironmentFile(envFile), WithEnvironmentFile(envFile), WithFlags("--max-runs", "4")},
			"serve --addr A --db /data/faultline.db --no-examples --allow 10.0.0.0/8 --allow ratings --allow-host faultline.test " +
				"--environment /etc/faultline/environment-1.yaml --environment /etc/faultline/environment-2.yaml --max-runs 4"},
		{"a Docker network: listeners on every interface, the alias admitted as Host",
			[]Option{WithNetwork("net1"), WithAllow("ratings")},
			"serve --addr A --db /data/faultline.db --no-examples --allow ratings --allow 0.0.0.0 --allow-host faultline"},
		{"a Docker network with aliases of its own",
			[]Option{WithNetwork("net1", "chaos", "fl")},
			"serve --addr A --db /data/faultline.db --no-examples --allow 0.0.0.0 --allow-host chaos --allow-host fl"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var o options
			for _, opt := range c.opts {
				if err := opt(&o); err != nil {
					t.Fatal(err)
				}
			}
			o.defaults()
			if got, want := strings.Join(serveArgs(&o, "A"), " "), c.want; got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestOptionsRefuseWhatServeWould(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  Option
		want string
	}{
		{"a token the server finds too short", WithToken("0123456789abcde"), "15 bytes"},
		{"no image", WithImage(""), "empty image"},
		{"no network", WithNetwork(""), "empty network"},
		{"a port out of range", WithExposedPorts(15001, 0), "port 0"},
		{"a file that is not there", WithEnvironmentFile(filepath.Join(t.TempDir(), "none.yaml")), "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var o options
			err := c.opt(&o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	var o options
	if err := WithToken(strings.Repeat("x", MinTokenBytes))(&o); err != nil {
		t.Errorf("a token of %d bytes: %v", MinTokenBytes, err)
	}
}

func TestNewTokenIsLongEnoughAndFresh(t *testing.T) {
	a, b := newToken(), newToken()
	if len(a) != 2*MinTokenBytes || a == b {
		t.Errorf("tokens %q and %q: want %d hex digits of random bytes each, and different", a, b, 2*MinTokenBytes)
	}
}
