package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A newcomer's mistakes in serve's settings stop it before it listens,
// saying which setting and why.
func TestServeRefusesBadSettingsAtStartUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{name: "a short token", env: []string{"FAULTLINE_TOKEN=s3cret"}, want: "at least 16"},
		{name: "a short token on the command line", args: []string{"--token", "s3cret"}, want: "at least 16"},
		{name: "a tokens entry with an unknown role", env: []string{"FAULTLINE_TOKENS=ci root 0123456789abcdef0123"}, want: `unknown role "root"`},
		{name: "a memory limit that is no size", args: []string{"--memory-limit", "lots"}, want: "--memory-limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", t.TempDir() + "/f.db"}, tc.args...)
			// A server that starts instead is killed when the context ends.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, args...)
			cmd.Env = childEnv(tc.env...)
			out, err := cmd.CombinedOutput()
			if err == nil || ctx.Err() != nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("serve: %v, output:\n%s\nwant a refusal naming %q", err, out, tc.want)
			}
		})
	}
}
