package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/stats"
)

// fromFortio converts fortio's result into a [Result]. It is the only place
// that reads fortio's result type. Units: histogram values are seconds,
// ActualDuration is a time.Duration. It blanks res.UserCredentials and
// res.Payload and redacts the URL password before encoding Result.Raw, so
// res must not be used afterwards.
func fromFortio(res *fhttp.HTTPRunnerResults) (*Result, error) {
	out := &Result{
		ActualQPS:      res.ActualQPS,
		ActualDuration: res.ActualDuration,
		Codes:          make(map[int]int64, len(res.RetCodes)),
		Sockets:        res.SocketCount,
	}
	for code, n := range res.RetCodes {
		out.Codes[code] = n
		if code < 200 || code > 299 {
			out.Errors += n
		}
	}
	if h := res.DurationHistogram; h != nil {
		out.Requests = h.Count
		out.Latency = latencyPercentiles(h)
		out.Histogram = make([]Bucket, 0, len(h.Data))
		for _, b := range h.Data {
			out.Histogram = append(out.Histogram, Bucket{
				Start: seconds(b.Start),
				End:   seconds(b.End),
				Count: b.Count,
			})
		}
	}

	res.UserCredentials = ""
	res.Payload = nil
	res.URL = redactURL(res.URL)
	raw, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("loadgen: encode fortio result: %w", err)
	}
	out.Raw = raw
	return out, nil
}

// latencyPercentiles reads min, avg and max from the histogram's counters and
// the rest from the percentiles fortio computed (see the percentiles var).
func latencyPercentiles(h *stats.HistogramData) Percentiles {
	p := Percentiles{Min: seconds(h.Min), Avg: seconds(h.Avg), Max: seconds(h.Max)}
	for _, q := range h.Percentiles {
		d := seconds(q.Value)
		switch q.Percentile {
		case 50:
			p.P50 = d
		case 75:
			p.P75 = d
		case 90:
			p.P90 = d
		case 99:
			p.P99 = d
		case 99.9:
			p.P999 = d
		}
	}
	return p
}

// seconds converts fortio's float seconds to a Duration, rounded to the
// nanosecond.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}
