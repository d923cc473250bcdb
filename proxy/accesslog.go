package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// accessLogger writes Istio's default TEXT access log (docs/istio.md,
// Access log):
//
//	[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
//	%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
//	"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//	%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//	"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
//	%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
//	%REQUESTED_SERVER_NAME% %ROUTE_NAME%
//
// Lines are formatted outside the lock into pooled buffers and appended to
// a buffered writer; a timer flushes it shortly after the first unflushed
// line, so an idle proxy holds no goroutine and loses no line.
type accessLogger struct {
	mu     sync.Mutex
	w      *bufio.Writer
	timer  *time.Timer
	armed  bool
	closed bool
}

const accessLogFlushDelay = 50 * time.Millisecond

var lineBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func newAccessLogger(w io.Writer) *accessLogger {
	l := &accessLogger{w: bufio.NewWriterSize(w, 64<<10)}
	l.timer = time.AfterFunc(time.Hour, l.flush)
	l.timer.Stop()
	return l
}

func (l *accessLogger) write(x *exchange) {
	bp := lineBufPool.Get().(*[]byte)
	line := x.appendLogLine((*bp)[:0])
	l.writeLine(line)
	*bp = line
	lineBufPool.Put(bp)
}

// writeLine appends one formatted line.
func (l *accessLogger) writeLine(line []byte) {
	l.mu.Lock()
	if !l.closed {
		_, _ = l.w.Write(line)
		if !l.armed {
			l.armed = true
			l.timer.Reset(accessLogFlushDelay)
		}
	}
	l.mu.Unlock()
}

func (l *accessLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = false
	_ = l.w.Flush()
}

func (l *accessLogger) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer.Stop()
	l.closed = true
	_ = l.w.Flush()
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	if s == "" {
		b = append(b, '-')
	} else {
		b = append(b, s...)
	}
	return append(b, '"')
}

func appendField(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return append(b, s...)
}

func (x *exchange) appendLogLine(b []byte) []byte {
	r := x.r
	b = append(b, '[')
	b = x.start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, "] \""...)
	b = append(b, r.Method...)
	b = append(b, ' ')
	if op := r.Header[hdrOriginalPath]; len(op) > 0 {
		b = append(b, op[0]...)
	} else {
		b = append(b, x.rawPath...)
	}
	b = append(b, ' ')
	b = append(b, r.Proto...)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(x.code), 10)
	b = append(b, ' ')
	b = appendFlags(b, x.flags)
	b = append(b, ' ')
	b = appendField(b, x.details)
	b = append(b, " - "...) // %CONNECTION_TERMINATION_DETAILS%
	reason := x.transportFailure
	for i := 0; i < len(reason); i++ {
		if reason[i] == ' ' {
			reason = spaceToUnderscore(reason)
			break
		}
	}
	b = appendQuoted(b, reason)
	b = append(b, ' ')
	received := x.bytesReceived
	if x.body != nil {
		received = x.body.n.Load()
	}
	b = strconv.AppendInt(b, received, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, x.bytesSent, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, time.Since(x.start).Milliseconds(), 10)
	b = append(b, ' ')
	if x.serviceTime >= 0 {
		b = strconv.AppendInt(b, x.serviceTime, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, ' ')
	b = appendQuoted(b, r.Header.Get(hdrXFF))
	b = append(b, ' ')
	b = appendQuoted(b, r.Header.Get("User-Agent"))
	b = append(b, ' ')
	b = appendQuoted(b, x.ensureRequestID())
	b = append(b, ' ')
	b = appendQuoted(b, r.Host)
	b = append(b, ' ')
	upstreamHost := ""
	if x.ep != nil {
		upstreamHost = x.ep.addr
	}
	b = appendQuoted(b, upstreamHost)
	b = append(b, ' ')
	b = appendField(b, x.clusterName)
	b = append(b, ' ')
	b = appendField(b, x.upstreamLocal)
	b = append(b, ' ')
	b = appendLocalAddr(b, r)
	b = append(b, ' ')
	b = appendField(b, r.RemoteAddr)
	b = append(b, ' ')
	// %REQUESTED_SERVER_NAME%: a tunnel's SNI, a terminated connection's
	// (tls_gateway.go), else no TLS.
	if sni := x.sni; sni != "" || r.TLS == nil {
		b = appendField(b, sni)
	} else {
		b = appendField(b, r.TLS.ServerName)
	}
	b = append(b, ' ')
	b = appendField(b, x.routeName)
	return append(b, '\n')
}

// appendLocalAddr appends %DOWNSTREAM_LOCAL_ADDRESS%, the address the
// request's connection was accepted on, without formatting it into a
// string of its own.
func appendLocalAddr(b []byte, r *http.Request) []byte {
	switch a := r.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr:
		ap := a.AddrPort() // a.String() writes an IPv4-mapped address as IPv4
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).AppendTo(b)
	case net.Addr:
		return appendField(b, a.String())
	}
	return appendField(b, "")
}

func spaceToUnderscore(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == ' ' {
			out[i] = '_'
		}
	}
	return string(out)
}
