package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/faultline/faultline/proxy"
)

// BenchmarkProxyAlone sends the requests of BenchmarkProxyMesh with a
// client and to a target that allocate nothing per request (raw keep-alive
// sockets, fixed bytes, responses read in place), so that B/op and
// allocs/op are the proxy's own: what a proxied request costs it.
func BenchmarkProxyAlone(b *testing.B) {
	for _, table := range []string{"plain", "realistic"} {
		for _, body := range benchBodies {
			b.Run(table+"/"+body.name, func(b *testing.B) {
				addr := rawTarget(b, body.size)
				src := experiment(svc("reviews", 9080, addr))
				if table == "realistic" {
					src = realisticTable(addr)
				}
				p, err := proxy.Start(context.Background(), parse(b, src), "127.0.0.1:0", nil, proxy.Options{Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { p.Close() })
				request := []byte("GET /get HTTP/1.1\r\nHost: reviews:9080\r\nUser-Agent: bench\r\n\r\n")
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					c, err := net.Dial("tcp", p.MeshAddr())
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					br := bufio.NewReader(c)
					for pb.Next() {
						if _, err := c.Write(request); err != nil {
							b.Error(err)
							return
						}
						status, n, err := readRawResponse(br)
						if err != nil || status != 200 || n != body.size {
							b.Errorf("answer %d with %d bytes, %v", status, n, err)
							return
						}
					}
				})
			})
		}
	}
}

// rawTarget answers every request on a connection with size bytes, reading
// and writing in place; it returns its address.
func rawTarget(b *testing.B, size int) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	response := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n" + strings.Repeat("x", size))
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					for { // the request head; the proxy sends no body here
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(response); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

var contentLength = []byte("content-length:")

// readRawResponse reads one response in place: its status and the length
// of its body, which it skips.
func readRawResponse(br *bufio.Reader) (status, n int, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, 0, err
	}
	if len(line) < 12 {
		return 0, 0, io.ErrUnexpectedEOF
	}
	status, _ = strconv.Atoi(string(line[9:12])) // small: no allocation
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, 0, err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(line[len(contentLength):])))
		}
	}
	_, err = br.Discard(n)
	return status, n, err
}
