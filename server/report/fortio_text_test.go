package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	"fortio.org/log"

	"github.com/faultline/faultline/server/runstatus"
)

// fortioLoad runs a real fortio load as `fortio load -loglevel Warning`
// does, and returns what fortio printed (its CLI's first and last lines
// added from cli/fortio_main.go's formats) and its result JSON.
func fortioLoad(t *testing.T, target string, o fhttp.HTTPRunnerOptions, warmup int) (printed, url string, raw json.RawMessage) {
	t.Helper()
	prev := log.SetLogLevelQuiet(log.Warning)
	log.SetOutput(io.Discard) // fortio's log lines ("Non ok http code") are not its report
	t.Cleanup(func() { log.SetLogLevelQuiet(prev); log.SetOutput(os.Stderr) })
	srv := httptest.NewServer(http.HandlerFunc(fhttp.EchoHandler))
	t.Cleanup(srv.Close)

	var out bytes.Buffer
	o.Out, o.Stop, o.AllowInitialErrors = &out, periodic.NewAborter(), true
	o.Percentiles = []float64{50, 75, 90, 99, 99.9}
	o.URL = srv.URL + target
	qps, exactly, duration := o.QPS, o.Exactly, o.Duration
	res, err := fhttp.RunHTTPTest(&o)
	if err != nil {
		t.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	head := fmt.Sprintf("Fortio %s running at %g queries per second, %d->%d procs", res.Version, max(qps, 0), procs, procs)
	if exactly > 0 {
		head += fmt.Sprintf(", for %d calls: %s\n", exactly, o.URL)
	} else {
		head += fmt.Sprintf(", for %v: %s\n", duration, o.URL)
	}
	tail := fmt.Sprintf("All done %d calls (plus %d warmup) %.3f ms avg, %.1f qps\n",
		res.DurationHistogram.Count, warmup, 1000.*res.DurationHistogram.Avg, res.ActualQPS)
	if raw, err = json.Marshal(res); err != nil {
		t.Fatal(err)
	}
	return head + out.String() + tail, o.URL, raw
}

// What fortio prints that its result does not keep: each connection's own
// connection timing (the result has their total), and a paced run's sleep
// times (a line, or a histogram and a warning when the calls fell behind).
var (
	connectionTiming = regexp.MustCompile(`(?m)^(\[\d+\] +\d+ socket used, resolved to .*), connection timing : .*$`)
	sleepTimes       = regexp.MustCompile(`(?m)^Sleep times : .*\n|(?s)Aggregated Sleep Time : .*?\nWARNING [^\n]*\n`)
)

// The text report begins with what `fortio load` prints, byte for byte,
// rendered from fortio's result alone: fortio's own output of a real load
// is the expected text.
func TestTextReportPrintsWhatFortioLoadPrints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target string
		opts   periodic.RunnerOptions
		warmup int
	}{
		{"count-bound at max speed, with errors", "/?status=503:40&delay=1ms:30", periodic.RunnerOptions{QPS: -1, NumThreads: 3, Exactly: 30}, 0},
		{"count-bound, paced", "/?status=418:10", periodic.RunnerOptions{QPS: 400, NumThreads: 2, Exactly: 21}, 0},
		{"duration-bound, paced, after one warm-up call per connection", "/", periodic.RunnerOptions{QPS: 100, NumThreads: 2, Duration: 200 * time.Millisecond}, 2},
		{"duration-bound at max speed, no error", "/", periodic.RunnerOptions{QPS: -1, NumThreads: 2, Duration: 50 * time.Millisecond}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fhttp.HTTPRunnerOptions{RunnerOptions: tc.opts}
			o.RunnerOptions.Resolution = 0.0001
			printed, url, raw := fortioLoad(t, tc.target, o, tc.warmup)
			want := connectionTiming.ReplaceAllString(printed, "$1")
			want = sleepTimes.ReplaceAllString(want, "")

			var text strings.Builder
			r := &Report{Experiment: "x", Status: runstatus.Succeeded, Verdict: VerdictNone, Target: url, Warmup: int64(tc.warmup), Fortio: raw}
			if err := WriteText(&text, r); err != nil {
				t.Fatal(err)
			}
			got, _, _ := strings.Cut(text.String(), "\n\nExperiment x")
			if got+"\n" != want {
				t.Errorf("fortio printed:\n%s\nthe report printed:\n%s", want, got)
			}
		})
	}
}
