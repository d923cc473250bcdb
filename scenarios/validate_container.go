package scenarios

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// validateContainer checks a container endpoint at p
// (spec.services[i].endpoints[j].container).
func validateContainer(r *reporter, p string, c *Container) {
	switch {
	case c.Build != nil && c.Image != "":
		r.errorf(p, "set build or image, not both")
	case c.Build == nil && c.Image == "":
		r.errorf(p, "needs build (a Dockerfile to build) or image (one that exists locally; nothing is pulled)")
	}
	if c.Build != nil {
		if c.Build.Context == "" {
			r.errorf(p+".build.context", "is required: the build directory, relative to the experiment file")
		}
		if df := c.Build.Dockerfile; df != "" && (strings.HasPrefix(df, "/") || strings.HasPrefix(path.Clean(df), "..")) {
			r.errorf(p+".build.dockerfile", "must be a path inside the build context, not %q", df)
		}
	}
	if c.Image != "" && strings.ContainsAny(c.Image, " \t\n") {
		r.errorf(p+".image", "must be an image reference such as faultline-demo:latest, not %q", c.Image)
	}
	if c.Port == 0 || c.Port > 65535 {
		r.errorf(p+".port", "is required: the container port to publish on 127.0.0.1, 1-65535")
	}
	for k := range c.Env {
		if k == "" || strings.ContainsAny(k, "= \t\n") {
			r.errorf(p+".env."+k, "is not a valid environment variable name")
		}
	}
	if c.Wait != nil {
		if c.Wait.Path != "" && !strings.HasPrefix(c.Wait.Path, "/") {
			r.errorf(p+".wait.path", "must start with /, not %q", c.Wait.Path)
		}
		if c.Wait.Timeout != nil && *c.Wait.Timeout <= 0 {
			r.errorf(p+".wait.timeout", "must be positive")
		}
		if c.Wait.Timeout != nil && c.Wait.Timeout.D() > MaxContainerWait {
			r.errorf(p+".wait.timeout", "%s is above the ceiling of %s", c.Wait.Timeout, Duration(MaxContainerWait))
		}
	}
}

// validateActions checks spec.actions against the container endpoints.
func validateActions(r *reporter, s *ExperimentSpec) {
	for i, a := range s.Actions {
		p := fmt.Sprintf("spec.actions[%d]", i)
		if a.At == nil {
			r.errorf(p+".at", "is required: the offset from the load's start, such as 2s")
		} else if *a.At < 0 {
			r.errorf(p+".at", "must not be negative")
		} else if l := s.Load; l != nil && l.Duration != nil && *a.At > *l.Duration {
			r.warnf(p+".at", "%s is after the load's %s: the action will not run", a.At, l.Duration)
		}
		if !slices.Contains(ContainerActions, a.Action) {
			r.errorf(p+".action", "must be one of %s, not %q", strings.Join(ContainerActions, ", "), a.Action)
		}
		if a.Container == "" {
			r.errorf(p+".container", "is required: <service host>/<endpoint index>, or the host when it has one container endpoint")
		} else if _, _, err := s.ContainerEndpoint(a.Container); err != nil {
			r.errorf(p+".container", "%v", err)
		}
	}
}
