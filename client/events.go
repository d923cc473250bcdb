package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"
)

// errSkipEvent tells openEvents to pass over an event it has no use for
// (an unknown name).
var errSkipEvent = errors.New("skip the event")

// eventBuffer is how many decoded events wait for a slow reader.
const eventBuffer = 16

// openEvents opens the event stream at path and returns the events that
// decode makes of it, read by a goroutine that closes the channel when
// the stream ends, drops or fails to decode, after an event decode marks
// as the end, or when ctx ends.
func openEvents[E any](ctx context.Context, c *Client, path string, decode func(name string, data []byte) (ev E, end bool, err error)) (<-chan E, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: path, accept: "text/event-stream"})
	if err != nil {
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		return nil, fmt.Errorf("faultline: GET %s: the answer is %q, not an event stream", path, mt)
	}
	out := make(chan E, eventBuffer)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		_ = readEvents(resp.Body, func(name string, data []byte) bool {
			ev, end, err := decode(name, data)
			if errors.Is(err, errSkipEvent) {
				return true
			}
			if err != nil {
				return false
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return false
			}
			return !end
		})
	}()
	return out, nil
}

// readEvents reads server-sent events from r and hands each to emit
// (event name, "message" when it has none, and data) until r ends or emit
// returns false. Comments (keep-alives) and id and retry fields are
// passed over.
func readEvents(r io.Reader, emit func(name string, data []byte) bool) error {
	br := bufio.NewReader(r)
	var (
		name string
		data bytes.Buffer
	)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return err // a stream cut mid-event never dispatches it
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			if data.Len() > 0 {
				if !emit(orDefault(name, "message"), bytes.TrimSuffix(data.Bytes(), []byte("\n"))) {
					return nil
				}
			}
			name = ""
			data.Reset()
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			name = string(value)
		case "data":
			data.Write(value)
			data.WriteByte('\n')
		}
	}
}

// maxWaitFailures is how many failed reads in a row waitEnd bears.
const maxWaitFailures = 5

// drain reads an event stream until it is closed: after its end event,
// or when it drops.
func drain[E any](events <-chan E, err error) error {
	if err != nil {
		return err
	}
	for range events {
	}
	return nil
}

// waitEnd follows something to its end: stream follows its events until
// the stream closes, after the end event or because it dropped; then read
// reads it, every poll interval until it has ended (done). A refusal by
// the API other than an unavailable server ends the wait with that error,
// as do maxWaitFailures failed reads in a row.
func waitEnd[T any](ctx context.Context, c *Client, stream func(context.Context) error, read func(context.Context) (v *T, done bool, err error)) (*T, error) {
	sctx, cancel := context.WithCancel(ctx)
	err := stream(sctx)
	cancel()
	if err != nil && !transient(err) {
		return nil, err
	}
	failures := 0
	for {
		v, done, err := read(ctx)
		switch {
		case err == nil && done:
			return v, nil
		case err == nil:
			failures = 0
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case !transient(err) || failures+1 >= maxWaitFailures:
			return nil, err
		default:
			failures++
		}
		t := time.NewTimer(c.pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// transient reports whether err may pass by itself: the server was not
// reached, or answered that it is unavailable for now.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var e *Error
	if !errors.As(err, &e) {
		return true
	}
	switch e.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
