//go:build ignore

// Command reverseproxy is the "naïve Go L7 proxy" of docs/performance.md:
// Go's httputil.ReverseProxy with a Transport tuned for keep-alive (enough
// idle connections per host for every client connection), the peer that
// bench/run.sh measures Faultline against.
//
//	go run bench/reverseproxy.go -listen 127.0.0.1:18082 -target http://127.0.0.1:18080
//
// It is a program of its own (build tag ignore), outside package bench.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18082", "address to serve on")
	target := flag.String("target", "http://127.0.0.1:18080", "upstream base URL")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil {
		log.Fatal(err)
	}
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport: tr,
	}
	srv := &http.Server{Addr: *listen, Handler: rp, ReadHeaderTimeout: 30 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
