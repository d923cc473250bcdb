package scenarios

import (
	"fmt"
	"strconv"
	"strings"
)

// Container is an endpoint served by a local container the run starts:
// an image built from a Dockerfile, or one that already exists locally
// (the engine never pulls). Port is the container port published on
// 127.0.0.1.
type Container struct {
	Build *ContainerBuild   `json:"build,omitempty"`
	Image string            `json:"image,omitempty"`
	Port  uint32            `json:"port"`
	Env   map[string]string `json:"env,omitempty"`
	Cmd   []string          `json:"cmd,omitempty"`
	Wait  *ContainerWait    `json:"wait,omitempty"`
}

// ContainerBuild builds the image from a Dockerfile; Context is relative to
// the experiment file.
type ContainerBuild struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile,omitempty"`
}

// ContainerWait is the readiness check: an HTTP GET of Path (default "/")
// on the container port, within Timeout (default 30s).
type ContainerWait struct {
	Path    string    `json:"path,omitempty"`
	Timeout *Duration `json:"timeout,omitempty"`
}

// ContainerActions are the actions spec.actions may take on a container.
var ContainerActions = []string{"pause", "unpause", "stop", "start", "kill", "restart"}

// ContainerAction is a timed action on a container endpoint during the
// load: at At from the load's start, do Action to Container ("host/index",
// or just "host" when the service has one container endpoint).
type ContainerAction struct {
	At        *Duration `json:"at"`
	Container string    `json:"container"`
	Action    string    `json:"action"`
}

// ContainerEndpoint resolves an action's target to the service and endpoint
// indexes of a container endpoint.
func (s *ExperimentSpec) ContainerEndpoint(ref string) (svc, ep int, err error) {
	host, idx, hasIdx := strings.Cut(ref, "/")
	want := -1
	if hasIdx {
		n, perr := strconv.Atoi(idx)
		if perr != nil || n < 0 {
			return 0, 0, fmt.Errorf("must be <service host>/<endpoint index>, not %q", ref)
		}
		want = n
	}
	for i, service := range s.Services {
		if !SameHost(service.Host, host) {
			continue
		}
		if want >= 0 {
			if want >= len(service.Endpoints) || service.Endpoints[want].Container == nil {
				return 0, 0, fmt.Errorf("%q: endpoint %d of %s is not a container endpoint", ref, want, service.Host)
			}
			return i, want, nil
		}
		found := -1
		for j, e := range service.Endpoints {
			if e.Container == nil {
				continue
			}
			if found >= 0 {
				return 0, 0, fmt.Errorf("%q: %s has several container endpoints; name one as %s/<index>", ref, service.Host, service.Host)
			}
			found = j
		}
		if found < 0 {
			return 0, 0, fmt.Errorf("%q: %s has no container endpoint", ref, service.Host)
		}
		return i, found, nil
	}
	return 0, 0, fmt.Errorf("names no service of this experiment: %q", ref)
}
