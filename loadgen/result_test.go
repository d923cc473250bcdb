package loadgen

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/stats"
)

func TestFromFortio(t *testing.T) {
	res := &fhttp.HTTPRunnerResults{
		RetCodes:    map[int]int64{200: 6, 204: 1, 418: 1, 503: 1, -1: 1},
		SocketCount: 3,
	}
	res.ActualQPS = 12.5
	res.ActualDuration = 800 * time.Millisecond
	res.DurationHistogram = &stats.HistogramData{
		Count: 10, Min: 0.0005, Max: 0.25, Avg: 0.03,
		Data: []stats.Bucket{
			{Interval: stats.Interval{Start: 0.0005, End: 0.001}, Count: 9, Percent: 90},
			{Interval: stats.Interval{Start: 0.2, End: 0.25}, Count: 1, Percent: 100},
		},
		Percentiles: []stats.Percentile{
			{Percentile: 50, Value: 0.0007}, {Percentile: 75, Value: 0.0008}, {Percentile: 90, Value: 0.001},
			{Percentile: 99, Value: 0.245}, {Percentile: 99.9, Value: 0.2495},
		},
	}
	res.URL = "http://user:hunter2@127.0.0.1:9/x"
	res.UserCredentials = "user:hunter2"
	res.Payload = []byte("hunter2 body")

	got, err := fromFortio(res)
	if err != nil {
		t.Fatalf("fromFortio: %v", err)
	}
	if got.Requests != 10 {
		t.Errorf("Requests: got %d, want 10 (the histogram count)", got.Requests)
	}
	if got.Errors != 3 {
		t.Errorf("Errors: got %d, want 3 (418, 503 and a socket error; 418 is not 2xx)", got.Errors)
	}
	if got.Codes[-1] != 1 || got.Codes[200] != 6 || len(got.Codes) != 5 {
		t.Errorf("Codes: got %v", got.Codes)
	}
	if got.ActualQPS != 12.5 || got.ActualDuration != 800*time.Millisecond || got.Sockets != 3 {
		t.Errorf("ActualQPS %v, ActualDuration %v, Sockets %d", got.ActualQPS, got.ActualDuration, got.Sockets)
	}
	wantLatency := Percentiles{
		Min: 500 * time.Microsecond, Avg: 30 * time.Millisecond,
		P50: 700 * time.Microsecond, P75: 800 * time.Microsecond, P90: time.Millisecond,
		P99: 245 * time.Millisecond, P999: 249500 * time.Microsecond, Max: 250 * time.Millisecond,
	}
	if got.Latency != wantLatency {
		t.Errorf("Latency: got %+v, want %+v (seconds -> Duration)", got.Latency, wantLatency)
	}
	wantHist := []Bucket{
		{Start: 500 * time.Microsecond, End: time.Millisecond, Count: 9},
		{Start: 200 * time.Millisecond, End: 250 * time.Millisecond, Count: 1},
	}
	if len(got.Histogram) != len(wantHist) || got.Histogram[0] != wantHist[0] || got.Histogram[1] != wantHist[1] {
		t.Errorf("Histogram: got %+v, want %+v", got.Histogram, wantHist)
	}

	if strings.Contains(string(got.Raw), "hunter2") {
		t.Errorf("Raw leaks a secret: %s", got.Raw)
	}
	var raw struct {
		UserCredentials string
		Payload         []byte
		URL             string
		RetCodes        map[string]int64
	}
	if err := json.Unmarshal(got.Raw, &raw); err != nil {
		t.Fatalf("Raw: %v", err)
	}
	if raw.UserCredentials != "" || raw.Payload != nil {
		t.Errorf("Raw not scrubbed: UserCredentials %q, Payload %q", raw.UserCredentials, raw.Payload)
	}
	if raw.URL != "http://user:xxxxx@127.0.0.1:9/x" {
		t.Errorf("Raw URL: got %q, want the password redacted", raw.URL)
	}
	if raw.RetCodes["503"] != 1 {
		t.Errorf("Raw RetCodes: got %v, want fortio's own codes", raw.RetCodes)
	}
}
