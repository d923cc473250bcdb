// Package live keeps the live state of one background run — a run or a
// game-day run — while it executes: the context that halts it, with a
// cause, its state so far, and the subscribers that follow it.
// Subscribers never slow the run: each has a bounded buffer, and one that
// falls behind misses events.
package live

import (
	"context"
	"sync"
)

// Run is the live state of one background run: S is its state so far, as
// a new subscriber receives it, and E an event, as subscribers receive
// them. The run's owner publishes its events one at a time and calls End
// once the run's end is recorded.
type Run[S, E any] struct {
	cancel context.CancelCauseFunc
	// done is closed by End.
	done   chan struct{}
	buffer int

	mu    sync.Mutex
	state S
	subs  map[chan E]struct{}
	ended bool
}

// New returns the live state of a run that starts with state, and the
// context the run executes in: Cancel ends it with a cause. Each
// subscriber gets a buffer of buffer events.
func New[S, E any](parent context.Context, state S, buffer int) (context.Context, *Run[S, E]) {
	ctx, cancel := context.WithCancelCause(parent)
	return ctx, &Run[S, E]{cancel: cancel, done: make(chan struct{}), buffer: buffer, state: state, subs: map[chan E]struct{}{}}
}

// Cancel halts the run: its context ends with cause (nil means
// context.Canceled).
func (r *Run[S, E]) Cancel(cause error) { r.cancel(cause) }

// Done is closed once End has been called: the run's end is recorded.
func (r *Run[S, E]) Done() <-chan struct{} { return r.done }

// State returns the run's state so far.
func (r *Run[S, E]) State() S {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// Publish lets update change the state, under the run's lock, and hands
// the event it returns, when send is true, to every subscriber with room
// for it: a slow subscriber misses the event, never blocks the run.
func (r *Run[S, E]) Publish(update func(state *S) (ev E, send bool)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.publishLocked(update)
}

func (r *Run[S, E]) publishLocked(update func(state *S) (E, bool)) {
	ev, send := update(&r.state)
	if !send {
		return
	}
	for ch := range r.subs {
		select {
		case ch <- ev:
		default: // a slow subscriber misses an event, never blocks the run
		}
	}
}

// End marks the run ended, its end recorded: update, when not nil, makes
// the last change to the state and returns the last event, which Publish
// hands on; then every subscription is closed, and the channel of Done.
// Subscribe refuses from then on. Later calls do nothing.
func (r *Run[S, E]) End(update func(state *S) (ev E, send bool)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	if update != nil {
		r.publishLocked(update)
	}
	r.ended = true
	for ch := range r.subs {
		close(ch)
		delete(r.subs, ch)
	}
	close(r.done)
}

// Subscribe returns the state so far and a channel of the later events,
// closed when the run ends; cancel releases the subscription. Once the
// run has ended, ok is false, events is nil and state is the last state.
func (r *Run[S, E]) Subscribe() (state S, events <-chan E, cancel func(), ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return r.state, nil, func() {}, false
	}
	ch := make(chan E, r.buffer)
	r.subs[ch] = struct{}{}
	return r.state, ch, func() { r.unsubscribe(ch) }, true
}

func (r *Run[S, E]) unsubscribe(ch chan E) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.subs[ch]; ok {
		delete(r.subs, ch)
		close(ch)
	}
}
