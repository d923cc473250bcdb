package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/proxyrun"
	"github.com/faultline/faultline/server/demo"
)

// Default addresses of `faultline demo`.
const (
	defaultDemoListen     = "127.0.0.1:18080"      // httpbin
	defaultBookinfoListen = "127.0.0.1:9080"       // productpage; reviews v1, v2, v3 and ratings on the next four ports
	defaultDemoProxy      = proxyrun.DefaultListen // `faultline proxy`'s mesh listener
)

func demoCommand() *cobra.Command {
	var o demoOptions
	var accessLog bool
	cmd := &cobra.Command{
		Use:   "demo httpbin|bookinfo|productpage|details|reviews|ratings",
		Short: "Run built-in demo targets",
		Long: "Run a built-in demo target until interrupted.\n\n" +
			"httpbin: an httpbin-like service (/status/{code}, /delay/{seconds}, /headers, /get, /ip, /anything)\n" +
			"  on --listen (default " + defaultDemoListen + ").\n\n" +
			"bookinfo: Istio's Bookinfo chain, as separate processes would run it: productpage on --listen\n" +
			"  (default " + defaultBookinfoListen + "), reviews v1 (no ratings), v2 (black stars), v3 (red stars) and\n" +
			"  ratings on the next four ports (--listen with port 0 gives each a free port). productpage calls\n" +
			"  http://reviews:9080/reviews/0 and reviews v2/v3 call http://ratings:9080/ratings/0 through the proxy\n" +
			"  listener --proxy (default " + defaultDemoProxy + ", where `faultline proxy` listens), by Host name,\n" +
			"  propagating end-user and x-request-id. productpage gives reviews 3s and tries twice; reviews gives\n" +
			"  ratings 10s. Bind the hosts to these addresses in the experiment's spec.services (port 9080).\n\n" +
			"bookinfo --service productpage|details|reviews|ratings: one Bookinfo service in its own process or\n" +
			"  container, on --listen (default " + defaultBookinfoListen + "; reviews needs --version v1|v2|v3). Its calls go by\n" +
			"  name (http://details:9080, http://reviews:9080, http://ratings:9080) through the forward proxy of\n" +
			"  HTTP_PROXY / http_proxy (NO_PROXY honoured), or directly without one; productpage asks details too\n" +
			"  (3s, one try).\n\n" +
			"productpage, details, reviews, ratings: one Bookinfo service alone on --listen, calling through the\n" +
			"  proxy listener --proxy (reviews needs --version v1|v2|v3).",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"httpbin", "bookinfo", "productpage", "details", "reviews", "ratings"},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Stdout = cmd.OutOrStdout()
			if accessLog {
				o.AccessLog = cmd.OutOrStdout()
			}
			return serveDemo(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "", "address to listen on (default "+defaultDemoListen+"; bookinfo: productpage's, or --service's, "+defaultBookinfoListen+", the others on the next ports)")
	f.StringVar(&o.Version, "version", "", "version label the target reports in X-Demo-Version (reviews: v1, v2 or v3)")
	f.StringVar(&o.Service, "service", "", "bookinfo: run only this service (productpage, details, reviews or ratings), calling by name through HTTP_PROXY")
	f.StringVar(&o.Proxy, "proxy", "", "proxy listener the Bookinfo services call each other through, without --service (default "+defaultDemoProxy+")")
	f.BoolVar(&accessLog, "access-log", true, "print one line per request")
	return cmd
}

// demoOptions configure `faultline demo`.
type demoOptions struct {
	// Listen is the address of the target, or of productpage for
	// bookinfo (reviews v1, v2, v3 and ratings take the next four ports;
	// port 0 gives each a free port). "" = defaultDemoListen, or
	// defaultBookinfoListen for bookinfo.
	Listen string
	// Version is the target's version label (one target only; bookinfo
	// starts reviews v1, v2 and v3 itself).
	Version string
	// Proxy is the mesh listener the Bookinfo services call each other
	// through when they run in one process. "" = defaultDemoProxy. It
	// cannot be set with Service.
	Proxy string
	// Service runs one Bookinfo service alone for "bookinfo", as its own
	// process or container: productpage, details, reviews (Version v1, v2
	// or v3) or ratings, on Listen (default defaultBookinfoListen). Its
	// calls go by name (http://details:9080, http://reviews:9080,
	// http://ratings:9080) through the forward proxy OutboundProxy picks,
	// or directly when it picks none, and productpage asks details for
	// the book's details. "" runs all of Bookinfo in one process.
	Service string
	// OutboundProxy picks the forward proxy of each of Service's calls, as
	// http.Transport's Proxy does. nil = http.ProxyFromEnvironment
	// (HTTP_PROXY, http_proxy, NO_PROXY).
	OutboundProxy func(*http.Request) (*url.URL, error)
	AccessLog     io.Writer
	Stdout        io.Writer
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

// bookinfoServices are the services `faultline demo bookinfo --service`
// runs.
var bookinfoServices = []string{demo.NameProductpage, demo.NameDetails, demo.NameReviews, demo.NameRatings}

// serveDemo runs built-in demo targets until ctx ends: "httpbin",
// "productpage", "details", "reviews" or "ratings" alone, or "bookinfo" —
// productpage, reviews v1, v2, v3 and ratings on consecutive ports, as
// separate processes would, their calls routed through the proxy listener
// o.Proxy; or, with o.Service, one Bookinfo service calling by name.
func serveDemo(ctx context.Context, name string, o demoOptions) error {
	if o.Service != "" {
		return serveBookinfoService(ctx, name, o)
	}
	proxyAddr := o.Proxy
	if proxyAddr == "" {
		proxyAddr = defaultDemoProxy
	}
	instances := []demoInstance{{name, o.Version}}
	listen := o.Listen
	if name == "bookinfo" {
		instances = bookinfoInstances
		if listen == "" {
			listen = defaultBookinfoListen
		}
	} else if listen == "" {
		listen = defaultDemoListen
	}
	addrs, err := consecutiveAddrs(listen, len(instances))
	if err != nil {
		return fmt.Errorf("demo %s: --listen: %w", name, err)
	}

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
	return serveDemoTargets(ctx, lns, handlers)
}

// serveDemoTargets serves each handler on its listener until ctx ends or
// one of them fails, which stops the others.
func serveDemoTargets(ctx context.Context, lns []net.Listener, handlers []demo.Target) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
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

// serveBookinfoService runs the Bookinfo service o.Service alone, calling
// by name, and says where it listens and how its calls go.
func serveBookinfoService(ctx context.Context, name string, o demoOptions) error {
	if err := o.checkService(name); err != nil {
		return fmt.Errorf("demo %s: %w", name, err)
	}
	proxy := o.OutboundProxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	version := cmp.Or(o.Version, "v1")
	calls := bookinfoCalls(o.Service, version)
	routes := make([]string, len(calls))
	for i, target := range calls {
		route, err := outboundRoute(proxy, target)
		if err != nil {
			return fmt.Errorf("demo %s: %w", name, err)
		}
		routes[i] = route
	}
	h, err := demo.New(o.Service, demo.Options{Version: version, AccessLog: o.AccessLog, ByName: true, Proxy: proxy, CallDetails: true})
	if err != nil {
		return fmt.Errorf("demo %s: %w", name, err)
	}
	ln, err := net.Listen("tcp", cmp.Or(o.Listen, defaultBookinfoListen))
	if err != nil {
		return fmt.Errorf("demo %s: %w", name, err)
	}
	fmt.Fprintf(o.Stdout, "demo %s %s on http://%s\n", o.Service, version, ln.Addr())
	for i, target := range calls {
		fmt.Fprintf(o.Stdout, "calls to %s go %s\n", target, routes[i])
	}
	return serveDemoTargets(ctx, []net.Listener{ln}, []demo.Target{h})
}

// checkService checks the options of `faultline demo name --service`.
func (o demoOptions) checkService(name string) error {
	switch {
	case name != "bookinfo":
		return errors.New("--service is for bookinfo only")
	case !slices.Contains(bookinfoServices, o.Service):
		return fmt.Errorf("--service must be one of %s, not %q", strings.Join(bookinfoServices, ", "), o.Service)
	case o.Service == demo.NameReviews && !slices.Contains([]string{"v1", "v2", "v3"}, o.Version):
		return fmt.Errorf("--service reviews needs --version v1 (no ratings), v2 (black stars) or v3 (red stars), not %q", o.Version)
	case o.Proxy != "":
		return errors.New("--proxy is for all of Bookinfo in one process; with --service, name the forward proxy in HTTP_PROXY")
	}
	return nil
}

// bookinfoCalls are the services a Bookinfo service calls by name:
// productpage calls details, reviews, and ratings (for
// /api/v1/products/{id}/ratings); reviews v2 and v3 call ratings.
func bookinfoCalls(service, version string) []string {
	switch {
	case service == demo.NameProductpage:
		return []string{"http://details:9080", "http://reviews:9080", "http://ratings:9080"}
	case service == demo.NameReviews && version != "v1":
		return []string{"http://ratings:9080"}
	}
	return nil
}

// outboundRoute says how a call to target goes: "through the proxy
// http://faultline:15001", or "direct" when proxy picks none. An error is
// a proxy setting that no call could use (a malformed HTTP_PROXY).
func outboundRoute(proxy func(*http.Request) (*url.URL, error), target string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return "", fmt.Errorf("call %s: %w", target, err)
	}
	u, err := proxy(req)
	if err != nil {
		return "", fmt.Errorf("the forward proxy for %s (HTTP_PROXY, http_proxy): %w", target, err)
	}
	if u == nil {
		return "direct", nil
	}
	return "through the proxy " + u.Redacted(), nil
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
