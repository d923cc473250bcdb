package inbound

import (
	"errors"
	"net"
	"time"
)

// Noticing a client that goes away while its request is in the handler.
// Something must read the connection for that; net/http starts a
// goroutine per request to do it. Here a request that has run for
// WatchAfter (its body read to the end) starts one, on the connection's
// timer, so most requests, done sooner, start none. The read peeks one
// byte: an error cancels the request's context; bytes of a pipelined
// request stay in the buffer for the next round.

// armWatch starts the request's watch timer; ready says its body is
// already read (it has none).
func (c *conn) armWatch(ready bool) {
	c.watchMu.Lock()
	c.watchArmed = true
	c.watchReady = ready
	c.watchWanted = false
	c.watchMu.Unlock()
	d := c.s.watchAfter()
	if c.watchTimer == nil {
		c.watchTimer = time.AfterFunc(d, c.watchFired)
	} else {
		c.watchTimer.Reset(d)
	}
}

// watchFired starts the watch, or asks the body to start it at its end.
func (c *conn) watchFired() {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if !c.watchArmed || c.watching {
		return
	}
	if !c.watchReady {
		c.watchWanted = true
		return
	}
	c.startWatchLocked()
}

// bodyDone is told by the body when it was read to the end.
func (c *conn) bodyDone() {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	c.watchReady = true
	if c.watchArmed && c.watchWanted && !c.watching {
		c.startWatchLocked()
	}
}

func (c *conn) startWatchLocked() {
	c.watching = true
	go func() {
		_, err := c.br.Peek(1)
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			c.peerGone.Store(true)
			c.cancelConn()
		}
		c.watchDone <- struct{}{}
	}()
}

// disarmWatch stops the timer and ends a watch under way; afterwards the
// connection's goroutine owns the buffer again.
func (c *conn) disarmWatch() {
	c.watchTimer.Stop()
	c.watchMu.Lock()
	c.watchArmed = false
	watching := c.watching
	c.watching = false
	c.watchMu.Unlock()
	if watching {
		c.rwc.SetReadDeadline(aLongTimeAgo)
		<-c.watchDone
		c.rdur = -1 // re-arm the deadline at the next read
	}
}
