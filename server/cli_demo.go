package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/faultline/faultline/server/demo"
)

// Default addresses of `faultline demo`.
const (
	DefaultDemoListen     = "127.0.0.1:18080" // httpbin
	DefaultBookinfoListen = "127.0.0.1:9080"  // productpage; reviews v1, v2, v3 and ratings on the next four ports
	DefaultDemoProxy      = "127.0.0.1:15001" // `faultline proxy`'s mesh listener
)

// DemoOptions configure `faultline demo`.
type DemoOptions struct {
	// Listen is the address of the target, or of productpage for
	// bookinfo (reviews v1, v2, v3 and ratings take the next four ports;
	// port 0 gives each a free port). "" = DefaultDemoListen, or
	// DefaultBookinfoListen for bookinfo.
	Listen string
	// Version is the target's version label (one target only; bookinfo
	// starts reviews v1, v2 and v3 itself).
	Version string
	// Proxy is the mesh listener the Bookinfo services call each other
	// through. "" = DefaultDemoProxy.
	Proxy     string
	AccessLog io.Writer
	Stdout    io.Writer
}

// demoInstance is one target `faultline demo` starts.
type demoInstance struct {
	name, version string
}

// bookinfoInstances are the services `faultline demo bookinfo` starts, in
// port order after productpage's.
var bookinfoInstances = []demoInstance{
	{demo.NameProductpage, "v1"},
	{demo.NameReviews, "v1"},
	{demo.NameReviews, "v2"},
	{demo.NameReviews, "v3"},
	{demo.NameRatings, "v1"},
}

// ServeDemo runs built-in demo targets until ctx ends: "httpbin",
// "productpage", "reviews" or "ratings" alone, or "bookinfo" — productpage,
// reviews v1, v2, v3 and ratings on consecutive ports, as separate
// processes would, their calls routed through the proxy listener o.Proxy.
func ServeDemo(ctx context.Context, name string, o DemoOptions) error {
	proxyAddr := o.Proxy
	if proxyAddr == "" {
		proxyAddr = DefaultDemoProxy
	}
	instances := []demoInstance{{name, o.Version}}
	listen := o.Listen
	if name == "bookinfo" {
		instances = bookinfoInstances
		if listen == "" {
			listen = DefaultBookinfoListen
		}
	} else if listen == "" {
		listen = DefaultDemoListen
	}
	addrs, err := consecutiveAddrs(listen, len(instances))
	if err != nil {
		return fmt.Errorf("demo %s: --listen: %w", name, err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lns []net.Listener
	var handlers []demo.Target
	for i, in := range instances {
		h, err := demo.New(in.name, demo.Options{Version: in.version, AccessLog: o.AccessLog, Mesh: proxyAddr})
		var ln net.Listener
		if err == nil {
			ln, err = net.Listen("tcp", addrs[i])
		}
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("demo %s: %w", name, err)
		}
		lns, handlers = append(lns, ln), append(handlers, h)
	}
	for i, in := range instances {
		version := in.version
		if version == "" {
			version = "-"
		}
		fmt.Fprintf(o.Stdout, "demo %s %s on http://%s\n", in.name, version, lns[i].Addr())
	}
	if name == "bookinfo" || name == demo.NameProductpage || name == demo.NameReviews {
		fmt.Fprintf(o.Stdout, "calls to reviews and ratings go through the proxy listener %s (Host reviews:9080, ratings:9080)\n", proxyAddr)
	}

	errs := make([]error, len(lns))
	var wg sync.WaitGroup
	for i := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = demo.Serve(ctx, lns[i], handlers[i])
			cancel() // one target failing stops the others
		}()
	}
	wg.Wait()
	for _, h := range handlers {
		if m, ok := h.(demo.MeshCaller); ok {
			m.CloseIdleConnections()
		}
	}
	return errors.Join(errs...)
}

// consecutiveAddrs returns n listen addresses: listen, then the next
// ports on the same host; with port 0 every one is host:0.
func consecutiveAddrs(listen string, n int) ([]string, error) {
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port+n-1 > 65535 {
		return nil, fmt.Errorf("%q: want host:port with room for %d consecutive ports", listen, n)
	}
	addrs := make([]string, n)
	for i := range addrs {
		p := port
		if port != 0 {
			p += i
		}
		addrs[i] = net.JoinHostPort(host, strconv.Itoa(p))
	}
	return addrs, nil
}
