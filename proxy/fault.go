package proxy

import (
	"strconv"
	"time"
)

// fault is a compiled HTTPFaultInjection: Envoy's fault filter, which runs
// before the router for requests that matched the route.
type fault struct {
	delay        time.Duration
	delayPercent uint64 // numerator over a million; 0 = never
	abortPercent uint64
	abortStatus  int
	// grpcStatus is set ("14") for grpcStatus aborts: HTTP 200 with
	// grpc-status and grpc-message.
	grpcStatus []string
	hasAbort   bool
}

// active reports whether the fault can strike: a delay or an abort with a
// non-zero percentage.
func (f *fault) active() bool {
	return f != nil && (f.delay > 0 && f.delayPercent > 0 || f.hasAbort && f.abortPercent > 0)
}

func grpcStatusValue(code int) []string { return []string{strconv.Itoa(code)} }

// faultOutcome is what the fault stage decided.
type faultOutcome uint8

const (
	faultPass faultOutcome = iota
	faultAborted
	faultCancelled // the client went away during the delay
)

// apply is the fault stage: draw for the delay, hold the request (giving
// up at once if the client goes away: no goroutine and no timer outlive
// it), then draw for the abort. The two draws are independent, as in
// Envoy's fault filter.
func (f *fault) apply(x *exchange) faultOutcome {
	if x.rng.hit(f.delayPercent) {
		x.flags |= flagDI
		x.ls.delays.Add(1)
		if x.entry.rule.stats != nil {
			x.entry.rule.stats.delays.Add(1)
		}
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-x.r.Context().Done():
			t.Stop()
			return faultCancelled
		}
	}
	if f.hasAbort && x.rng.hit(f.abortPercent) {
		x.ls.aborts.Add(1)
		if x.entry.rule.stats != nil {
			x.entry.rule.stats.aborts.Add(1)
		}
		f.reply(x)
		return faultAborted
	}
	return faultPass
}

// reply answers with the fault's abort, flagged FI: its HTTP status with
// Envoy's "fault filter abort" body, or for a grpcStatus abort HTTP 200
// with grpc-status and grpc-message.
func (f *fault) reply(x *exchange) {
	x.flags |= flagFI
	if f.grpcStatus != nil {
		h := x.w.Header()
		h[hdrContentType] = valGRPC
		h[hdrGRPCStatus] = f.grpcStatus
		h[hdrGRPCMessage] = valFaultAbort
		x.finishLocal(200, nil, "fault_filter_abort")
		return
	}
	x.localReply(f.abortStatus, bodyFaultAbort, "fault_filter_abort")
}
