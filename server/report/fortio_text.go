package report

import (
	"cmp"
	"encoding/json"
	"runtime"
	"slices"
	"strconv"
	"time"
)

// fortioResult is the part of fortio's result JSON (fhttp.HTTPRunnerResults,
// kept verbatim in Report.Fortio) that `fortio load` prints.
type fortioResult struct {
	Version                 string
	RequestedQPS            string // "max", or the rate as %.9g
	RequestedDuration       string // "exactly 30 calls", or a Go duration
	ActualQPS               float64
	ActualDuration          time.Duration // nanoseconds
	NumThreads              int
	Exactly                 int64
	Jitter, Uniform         bool
	NoCatchUp               bool
	DurationHistogram       *fortioHistogram
	ErrorsDurationHistogram *fortioHistogram
	ConnectionStats         *fortioHistogram
	HeaderSizes             *fortioHistogram
	Sizes                   *fortioHistogram
	RetCodes                map[int]int64
	IPCountMap              map[string]int
	Sockets                 []int64
	SocketCount             int64
}

// fortioHistogram is fortio's stats.HistogramData: values in seconds for
// durations, bytes for sizes.
type fortioHistogram struct {
	Count                      int64
	Min, Max, Sum, Avg, StdDev float64
	Data                       []struct {
		Start, End, Percent float64
		Count               int64
	}
	Percentiles []struct{ Percentile, Value float64 }
}

// decodeFortio reads fortio's result JSON; false when there is none (a run
// stopped before its load, or abandoned at its cap).
func decodeFortio(raw json.RawMessage) (*fortioResult, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var f fortioResult
	if err := json.Unmarshal(raw, &f); err != nil || f.DurationHistogram == nil {
		return nil, false
	}
	return &f, true
}

// writeFortio prints what `fortio load -loglevel Warning URL` prints for
// the result f, in fortio's own formats (fortio.org/fortio v1.75.3:
// cli/fortio_main.go, periodic/periodic.go, stats/stats.go,
// fhttp/httprunner.go). Two things fortio prints are not in its result and
// are left out: a paced run's sleep-time line, and each connection's own
// connection timing (their total is the "Connection time" line).
func writeFortio(ew *errWriter, r *Report, f *fortioResult) {
	procs := runtime.GOMAXPROCS(0) // the process that ran the load: `faultline run` prints its own report
	qps := 0.0                     // fortio's -qps 0: as fast as possible
	if f.RequestedQPS != "max" {
		qps, _ = strconv.ParseFloat(f.RequestedQPS, 64)
	}
	ew.printf("Fortio %s running at %g queries per second, %d->%d procs", f.Version, qps, procs, procs)
	if f.Exactly > 0 {
		ew.printf(", for %d calls: %s\n", f.Exactly, r.Target)
	} else {
		ew.printf(", for %s: %s\n", f.RequestedDuration, r.Target)
	}
	writeFortioStart(ew, f, qps, procs)
	h := f.DurationHistogram
	ew.printf("Ended after %v : %d calls. qps=%.5g\n", f.ActualDuration, h.Count, f.ActualQPS)
	h.print(ew, "Aggregated Function Time")
	f.ErrorsDurationHistogram.print(ew, "Error cases")
	ew.printf("# Socket and IP used for each connection:\n")
	for i, n := range f.Sockets {
		ew.printf("[%d] %3d socket used, resolved to %s\n", i, n, addresses(f.IPCountMap))
	}
	f.ConnectionStats.counter(ew, "Connection time (s)")
	ew.printf("Sockets used: %d (for perfect keepalive, would be %d)\n", f.SocketCount, f.NumThreads)
	ew.printf("Uniform: %t, Jitter: %t, Catchup allowed: %t\n", f.Uniform, f.Jitter, !f.NoCatchUp)
	ew.printf("IP addresses distribution:\n")
	ips := make([]string, 0, len(f.IPCountMap))
	for ip := range f.IPCountMap {
		ips = append(ips, ip)
	}
	slices.SortFunc(ips, func(a, b string) int { // most used first, as fortio sorts them
		return cmp.Or(cmp.Compare(f.IPCountMap[b], f.IPCountMap[a]), cmp.Compare(a, b))
	})
	for _, ip := range ips {
		ew.printf("%s: %d\n", ip, f.IPCountMap[ip])
	}
	codes := make([]int, 0, len(f.RetCodes))
	for c := range f.RetCodes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		ew.printf("Code %3d : %d (%.1f %%)\n", c, f.RetCodes[c], 100.*float64(f.RetCodes[c])/float64(h.Count))
	}
	f.HeaderSizes.counter(ew, "Response Header Sizes")
	f.Sizes.counter(ew, "Response Body/Total Sizes")
	ew.printf("All done %d calls (plus %d warmup) %.3f ms avg, %.1f qps\n", h.Count, r.Warmup, 1000.*h.Avg, f.ActualQPS)
}

// writeFortioStart prints fortio's "Starting at" line, whose per-connection
// split fortio computes as the run starts (periodic.runQPSSetup and
// runMaxQPSSetup); f.NumThreads is after fortio lowered it, as the line
// shows it.
func writeFortioStart(ew *errWriter, f *fortioResult, qps float64, procs int) {
	threads := int64(max(f.NumThreads, 1))
	if qps <= 0 {
		ew.printf("Starting at max qps with %d thread(s) [gomax %d] ", threads, procs)
		if f.Exactly > 0 {
			ew.printf("for %s (%d per thread + %d)\n", f.RequestedDuration, f.Exactly/threads, f.Exactly%threads)
		} else {
			ew.printf("for %s\n", f.RequestedDuration)
		}
		return
	}
	calls := f.Exactly
	if calls <= 0 {
		d, _ := time.ParseDuration(f.RequestedDuration)
		calls = max(int64(qps*d.Seconds()), 2)
	}
	per := calls / threads
	if f.Exactly > 0 {
		ew.printf("Starting at %g qps with %d thread(s) [gomax %d] : exactly %d, %d calls each (total %d + %d)\n",
			qps, threads, procs, f.Exactly, per, per*threads, f.Exactly-per*threads)
		return
	}
	ew.printf("Starting at %g qps with %d thread(s) [gomax %d] for %s : %d calls each (total %d)\n",
		qps, threads, procs, f.RequestedDuration, per, per*threads)
}

// addresses is what fortio prints for the addresses a connection resolved
// to (stats.Occurrence.AggregateAndToString): the address alone when there
// is one, else each with its count.
func addresses(counts map[string]int) string {
	if len(counts) == 1 {
		for ip := range counts {
			return ip
		}
	}
	ips := make([]string, 0, len(counts))
	for ip := range counts {
		ips = append(ips, ip)
	}
	slices.Sort(ips)
	s := "["
	for i, ip := range ips {
		if i > 0 {
			s += ", "
		}
		s += ip + " (" + strconv.Itoa(counts[ip]) + ")"
	}
	return s + "]"
}

// print is fortio's stats.HistogramData.Print.
func (h *fortioHistogram) print(ew *errWriter, msg string) {
	if h == nil || len(h.Data) == 0 {
		ew.printf("%s : no data\n", msg)
		return
	}
	h.counter(ew, msg)
	ew.printf("# range, mid point, percentile, count\n")
	sep := ">="
	for i, b := range h.Data {
		if i > 0 {
			sep = ">" // only the first interval includes its start
		}
		ew.printf("%s %.6g <= %.6g , %.6g , %.2f, %d\n", sep, b.Start, b.End, (b.Start+b.End)/2., b.Percent, b.Count)
	}
	for _, p := range h.Percentiles {
		ew.printf("# target %g%% %.6g\n", p.Percentile, p.Value)
	}
}

// counter is fortio's stats.Counter.Print, whose values a HistogramData
// carries.
func (h *fortioHistogram) counter(ew *errWriter, msg string) {
	if h == nil {
		h = &fortioHistogram{}
	}
	ew.printf("%s : count %d avg %.8g +/- %.4g min %g max %g sum %.9g\n", msg, h.Count, h.Avg, h.StdDev, h.Min, h.Max, h.Sum)
}

// writeFortioFromReport prints fortio's lines the report itself holds, for
// a run without fortio's result: its load was stopped before it began, or
// abandoned at the run's cap.
func writeFortioFromReport(ew *errWriter, r *Report) {
	d := time.Duration(r.DurationMs * float64(time.Millisecond))
	ew.printf("Ended after %v : %d calls. qps=%.5g\n", d, r.Requests, r.QPS)
	if r.Requests > 0 {
		l := r.LatencyMs
		for _, p := range []struct{ pct, ms float64 }{{50, l.P50}, {75, l.P75}, {90, l.P90}, {99, l.P99}, {99.9, l.P999}} {
			ew.printf("# target %g%% %.6g\n", p.pct, p.ms/1000)
		}
	}
	ew.printf("Sockets used: %d (for perfect keepalive, would be %d)\n", r.Sockets, r.Connections)
	for _, code := range sortedCodes(r.Codes) {
		c, _ := strconv.Atoi(code)
		ew.printf("Code %3d : %d (%.1f %%)\n", c, r.Codes[code], 100*ratio(r.Codes[code], r.Requests))
	}
	ew.printf("All done %d calls (plus %d warmup) %.3f ms avg, %.1f qps\n", r.Requests, r.Warmup, r.LatencyMs.Avg, r.QPS)
}
