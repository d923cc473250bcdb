package api

import (
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// sseHeartbeat is how often a quiet event stream sends a comment, so that
// proxies and clients keep it open.
const sseHeartbeat = 15 * time.Second

// startSSE readies the response for server-sent events, which outlive
// any server write timeout.
func startSSE(c *gin.Context) {
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Time{})
	c.Header("Cache-Control", "no-cache")
	c.Header("X-Accel-Buffering", "no")
}

// follow streams each value from updates as an event named event, and a
// keep-alive comment while none comes, until updates is closed (or live
// is false from the start): then end sends the last event. It returns
// when the client leaves.
func follow[T any](c *gin.Context, updates <-chan T, live bool, event string, end func()) {
	ctx := c.Request.Context()
	heartbeat := time.NewTicker(sseHeartbeat)
	defer heartbeat.Stop()
	c.Stream(func(w io.Writer) bool {
		if !live {
			end()
			return false
		}
		select {
		case v, ok := <-updates:
			if !ok {
				live = false
				return true
			}
			c.SSEvent(event, v)
			return true
		case <-heartbeat.C:
			_, _ = io.WriteString(w, ": keep-alive\n\n")
			return true
		case <-ctx.Done():
			return false
		}
	})
}
