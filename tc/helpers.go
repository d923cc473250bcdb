package tc

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/faultline/faultline/client"
)

// Environment creates the environment that the Environment document src
// (with its baseline Istio resources) describes, or updates the stored
// one of the same metadata.name, and returns it once its data plane
// listens: the service under test may use its egress from then on. A
// listener address that is taken is an error naming its field.
func (c *Container) Environment(ctx context.Context, src string) (*client.Environment, error) {
	applied, _, err := c.client.Environments.Apply(ctx, []byte(src))
	if err != nil {
		return nil, fmt.Errorf("tc: apply the environment: %w", err)
	}
	env, err := c.client.Environments.Get(ctx, applied.ID)
	if err != nil {
		return nil, fmt.Errorf("tc: read environment %s: %w", applied.Name, err)
	}
	switch {
	case env.Plane == nil:
		return nil, fmt.Errorf("tc: environment %s has no data plane", env.Name)
	case !env.Plane.Listening:
		return nil, fmt.Errorf("tc: environment %s is not listening: %s", env.Name, env.Plane.Error)
	}
	return env, nil
}

// Overlay is a set of Istio resources laid over an environment's baseline
// until its TTL ends or it is removed.
type Overlay struct {
	*client.Overlay
	// EnvironmentID is the environment it lies on.
	EnvironmentID int64
	c             *client.Client
}

// Overlay lays the Istio resources in src (a VirtualService aborting a
// dependency with 503, say) over the baseline of the environment named
// env, at once, for ttl (at most an hour; zero is the server's default).
// They revert when ttl ends, when the overlay is removed, or when the
// safety lever is engaged. A run or another overlay on the environment
// refuses it (client.CodeBusy).
func (c *Container) Overlay(ctx context.Context, env string, ttl time.Duration, src string) (*Overlay, error) {
	id, err := c.environmentID(ctx, env)
	if err != nil {
		return nil, err
	}
	o, err := c.client.Overlays.Add(ctx, id, ttl, []byte(src))
	if err != nil {
		return nil, fmt.Errorf("tc: lay the overlay on %s: %w", env, err)
	}
	return &Overlay{Overlay: o, EnvironmentID: id, c: c.client}, nil
}

// Remove ends the overlay now: the environment's baseline is back when it
// returns. An overlay that has ended already (its TTL, the lever) is
// not an error, so Remove suits a deferred clean-up.
func (o *Overlay) Remove(ctx context.Context) error {
	err := o.c.Overlays.Remove(ctx, o.EnvironmentID, o.ID)
	if err != nil && !client.IsNotFound(err) {
		return fmt.Errorf("tc: remove overlay %d: %w", o.ID, err)
	}
	return nil
}

// environmentID finds the stored environment named name.
func (c *Container) environmentID(ctx context.Context, name string) (int64, error) {
	opts := client.ListOptions{Limit: 500}
	for {
		page, err := c.client.Environments.List(ctx, opts)
		if err != nil {
			return 0, fmt.Errorf("tc: list environments: %w", err)
		}
		for _, e := range page.Items {
			if e.Name == name {
				return e.ID, nil
			}
		}
		next, ok := page.Next()
		if !ok {
			return 0, fmt.Errorf("tc: no environment is named %q", name)
		}
		opts = next
	}
}

// FreePort returns a port of the host's loopback that was free a moment
// ago: for an environment's listener on the host's network, whose
// addresses are fixed in its document.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
