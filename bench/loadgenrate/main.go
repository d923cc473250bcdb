// Command loadgenrate runs the project's loadgen (fortio as a library) at its
// maximum rate against one URL and prints the requests per second it
// achieved, one number on standard output. bench/run.sh sets it beside the
// bare `fortio load -qps -1` with the same options to measure the load
// generator's own overhead.
//
//	loadgenrate -url http://127.0.0.1:18080/status/200 -c 16 -t 10s -host httpbin:8000
//
// It uses fortio's fast client, as `fortio load` does; a run with any
// answer other than 200 fails.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/faultline/faultline/loadgen"
)

func main() {
	url := flag.String("url", "", "target URL (required)")
	conns := flag.Int("c", 16, "connections")
	dur := flag.Duration("t", 10*time.Second, "how long the load lasts")
	host := flag.String("host", "", "Host header (empty: the URL's host)")
	flag.Parse()
	if *url == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: loadgenrate -url URL [-c N] [-t DURATION] [-host HOST]")
		os.Exit(2)
	}
	h := http.Header{}
	if *host != "" {
		h.Set("Host", *host)
	}
	// QPS 0 is loadgen's maximum rate (fortio's -1).
	spec := loadgen.Spec{URL: *url, Header: h, Connections: *conns, Duration: *dur}
	res, err := loadgen.NewFortio().Run(context.Background(), spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgenrate:", err)
		os.Exit(1)
	}
	if res.Requests == 0 || res.Codes[200] != res.Requests {
		fmt.Fprintf(os.Stderr, "loadgenrate: codes %v over %d requests\n", res.Codes, res.Requests)
		os.Exit(1)
	}
	fmt.Printf("%.1f\n", res.ActualQPS)
}
