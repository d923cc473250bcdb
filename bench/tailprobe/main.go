// Command tailprobe shows where the proxy's latency tail comes from: the
// demo httpbin target, the proxy compiled from a route table (such as
// bench/table.yaml) and paced fortio load run in one process; it prints
// the slowest calls with the garbage collections that ended during them.
//
//	GOMAXPROCS=1 taskset -c 0 go run ./bench/tailprobe bench/table.yaml
//	go run ./bench/tailprobe -trace tail.out bench/table.yaml && go tool trace tail.out
//
// With -trace it writes an execution trace of the load: the goroutines of
// client, proxy and target, the collections and the scheduler, for `go
// tool trace`.
//
// docs/performance.md, "Where the tail comes from", has what it showed.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	flog "fortio.org/log"

	"github.com/faultline/faultline/proxy"
	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/demo"
)

// tableTarget is the target address the route tables of bench/ name.
const tableTarget = "127.0.0.1:18080"

// gcWindow is how long after a call a collection may end and still have
// run its mark phase during the call.
const gcWindow = 5 * time.Millisecond

func main() {
	qps := flag.Float64("qps", 1000, "the paced load's rate")
	conns := flag.Int("c", 16, "connections")
	dur := flag.Duration("t", 10*time.Second, "how long the load lasts")
	slowest := flag.Int("n", 20, "how many of the slowest calls to list")
	tracePath := flag.String("trace", "", "write an execution trace of the load to this file")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tailprobe [flags] TABLE.yaml")
		os.Exit(2)
	}
	if err := probe(flag.Arg(0), *qps, *conns, *dur, *slowest, *tracePath); err != nil {
		fmt.Fprintln(os.Stderr, "tailprobe:", err)
		os.Exit(1)
	}
}

// call is one call of the load: when it started and how long it took.
type call struct {
	start time.Time
	lat   time.Duration
}

// calls is fortio's access logger: it keeps every call.
type calls struct {
	mu  sync.Mutex
	all []call
}

func (c *calls) Start(ctx context.Context, _ periodic.ThreadID, _ int64, _ time.Time) context.Context {
	return ctx
}

func (c *calls) Report(_ context.Context, _ periodic.ThreadID, _ int64, start time.Time, lat float64, _ bool, _ string) {
	c.mu.Lock()
	c.all = append(c.all, call{start, time.Duration(lat * float64(time.Second))})
	c.mu.Unlock()
}

func (c *calls) Info() string { return "tailprobe" }

func probe(tablePath string, qps float64, conns int, dur time.Duration, slowest int, tracePath string) error {
	flog.SetLogLevelQuiet(flog.Error)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(ln, demo.NewHTTPBin(demo.HTTPBinOptions{})) }()
	src, err := os.ReadFile(tablePath)
	if err != nil {
		return err
	}
	doc, err := scenarios.Parse([]byte(strings.ReplaceAll(string(src), tableTarget, ln.Addr().String())))
	if err != nil {
		return err
	}
	px, err := proxy.Start(context.Background(), doc, "127.0.0.1:0", nil, proxy.Options{Seed: 1})
	if err != nil {
		return err
	}
	defer px.Close()

	log := &calls{}
	o := &fhttp.HTTPRunnerOptions{RunnerOptions: periodic.RunnerOptions{QPS: qps, NumThreads: conns, Duration: dur, Uniform: true,
		Out: os.Stderr, Stop: periodic.NewAborter(), AccessLogger: log, Resolution: 0.00001, Percentiles: []float64{50, 99, 99.9}}}
	o.URL = "http://" + px.MeshAddr() + "/status/200"
	if err := o.AddAndValidateExtraHeader("Host: httpbin:8000"); err != nil {
		return err
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	if tracePath != "" {
		f, err := os.Create(tracePath)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
	}
	_, err = fhttp.RunHTTPTest(o)
	if tracePath != "" {
		trace.Stop()
	}
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var gcEnds []time.Time // of the cycles during the load, at most the last 256
	for n := ms.NumGC; n > before.NumGC && ms.NumGC-n < 256; n-- {
		gcEnds = append(gcEnds, time.Unix(0, int64(ms.PauseEnd[(n-1)%256])))
	}
	first := slices.MinFunc(log.all, func(a, b call) int { return a.start.Compare(b.start) }).start
	slices.SortFunc(log.all, func(a, b call) int { return int(b.lat - a.lat) })
	slowest = min(slowest, len(log.all))
	fmt.Printf("%d calls, %d garbage collections during the load (%.1f MiB allocated, %d allocations)\n",
		len(log.all), ms.NumGC-before.NumGC, float64(ms.TotalAlloc-before.TotalAlloc)/(1<<20), ms.Mallocs-before.Mallocs)
	near := 0
	for i, c := range log.all[:slowest] {
		line := fmt.Sprintf("%3d: at %v latency %v", i+1, c.start.Sub(first).Round(time.Microsecond), c.lat.Round(time.Microsecond))
		// A collection whose mark phase (a few ms on one P, ending in a
		// stop-the-world pause) overlapped the call: it ended from just
		// before the call to a little after it.
		for _, g := range gcEnds {
			if !g.Before(c.start.Add(-time.Millisecond)) && !g.After(c.start.Add(c.lat+gcWindow)) {
				line += fmt.Sprintf(", a collection ended %v after it started", g.Sub(c.start).Round(time.Microsecond))
				near++
				break
			}
		}
		fmt.Println(line)
	}
	fmt.Printf("%d of the %d slowest calls overlapped a collection (one ending from 1 ms before the call to %v after it)\n", near, slowest, gcWindow)
	return nil
}
