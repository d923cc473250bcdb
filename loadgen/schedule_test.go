package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"fortio.org/fortio/periodic"
)

// fortioTarget is fortio's targetElapsedInSec and its conversion to a
// Duration, as written in periodic.runOne (v1.75.3).
func fortioTarget(i, numCalls int64, perThreadQPS float64, hasDuration bool) time.Duration {
	var targetElapsedInSec float64
	if hasDuration {
		targetElapsedInSec = (float64(i) + float64(i)/float64(numCalls-1)) / perThreadQPS
	} else {
		targetElapsedInSec = float64(i) / perThreadQPS
	}
	return time.Duration(int64(targetElapsedInSec * 1e9))
}

func TestScheduleReproducesFortiosArithmetic(t *testing.T) {
	cases := []struct {
		name      string
		qps       float64
		threads   int
		exactly   int64
		duration  time.Duration
		uniform   bool
		wantN     []int64 // calls per thread, after fortio lowered the threads
		wantDelay []time.Duration
	}{
		{name: "count-bound, one connection, default duration stretches", qps: 100, threads: 1, exactly: 100,
			wantN: []int64{100}, wantDelay: []time.Duration{0}},
		{name: "duration-bound splits qps*duration", qps: 200, threads: 4, duration: 1500 * time.Millisecond,
			wantN: []int64{75, 75, 75, 75}, wantDelay: make([]time.Duration, 4)},
		{name: "count-bound lowers threads to calls/2, thread 0 takes the leftover", qps: 10, threads: 4, exactly: 5,
			wantN: []int64{3, 2}, wantDelay: make([]time.Duration, 2)},
		{name: "fewer than 2 calls become 2 on one thread", qps: 1, threads: 4, duration: time.Second,
			wantN: []int64{2}, wantDelay: []time.Duration{0}},
		{name: "uniform staggers the threads over one period", qps: 100, threads: 4, duration: time.Second, uniform: true,
			wantN: []int64{25, 25, 25, 25}, wantDelay: []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSchedule(tc.qps, tc.threads, tc.exactly, tc.duration, tc.uniform)
			if !slices.Equal(s.numCalls, tc.wantN) {
				t.Fatalf("calls per thread: got %v, want %v", s.numCalls, tc.wantN)
			}
			perThread := tc.qps / float64(len(tc.wantN))
			for th, n := range tc.wantN {
				if d := s.delay[th] - tc.wantDelay[th]; d < -time.Microsecond || d > time.Microsecond {
					t.Errorf("thread %d: uniform delay %v, want %v", th, s.delay[th], tc.wantDelay[th])
				}
				for i := range n {
					want := s.delay[th] + fortioTarget(i, n, perThread, true)
					if got := s.due(th, i); got != want {
						t.Fatalf("thread %d call %d: due %v, want %v", th, i, got, want)
					}
				}
				// The stretch puts a thread's last call at n/perThreadQPS.
				last := time.Duration(float64(n) / perThread * float64(time.Second))
				if d := s.due(th, n-1) - s.delay[th] - last; d < -time.Microsecond || d > time.Microsecond {
					t.Errorf("thread %d: last call due %v after its base, want %v", th, s.due(th, n-1)-s.delay[th], last)
				}
			}
		})
	}
	t.Run("a numeric check", func(t *testing.T) {
		s := newSchedule(100, 1, 100, 0, false)
		// (50 + 50/99) / 100 s
		if got, want := s.due(0, 50), 505050505*time.Nanosecond; got != want {
			t.Errorf("due(0, 50): got %v, want %v", got, want)
		}
	})
	t.Run("an endless run does not stretch", func(t *testing.T) {
		s := newSchedule(50, 2, 0, -1, false)
		if got, want := s.due(1, 7), fortioTarget(7, 0, 25, false); got != want || want != 280*time.Millisecond {
			t.Errorf("due(1, 7): got %v, want %v (280ms)", got, want)
		}
	})
	if s := newSchedule(0, 4, 0, time.Second, false); s != nil {
		t.Errorf("a max-speed run has a schedule: %+v", s)
	}
}

// nopRunnable is a fortio Runnable that does nothing.
type nopRunnable struct{}

func (nopRunnable) Run(context.Context, periodic.ThreadID) (bool, string) { return true, "200" }

// startLog records each call's start as fortio reports it.
type startLog struct {
	mu     sync.Mutex
	starts map[[2]int64]time.Time
}

func (l *startLog) Start(ctx context.Context, th periodic.ThreadID, i int64, at time.Time) context.Context {
	l.mu.Lock()
	l.starts[[2]int64{int64(th), i}] = at
	l.mu.Unlock()
	return ctx
}

func (l *startLog) Report(context.Context, periodic.ThreadID, int64, time.Time, float64, bool, string) {
}
func (l *startLog) Info() string { return "test" }

// The schedule matches what fortio's own runner does: with a call that takes
// no time, every call starts at its due time, give or take timer slack.
func TestScheduleMatchesFortiosRunner(t *testing.T) {
	NewFortio() // quiets fortio's logger
	const qps, threads, duration = 200, 4, 400 * time.Millisecond
	log := &startLog{starts: map[[2]int64]time.Time{}}
	opts := periodic.RunnerOptions{
		QPS: qps, NumThreads: threads, Duration: duration, Uniform: true,
		Out: io.Discard, Stop: periodic.NewAborter(), AccessLogger: log,
	}
	runner := periodic.NewPeriodicRunner(&opts)
	runner.Options().MakeRunners(nopRunnable{})
	runner.Run()

	s := newSchedule(qps, threads, 0, duration, true)
	base := log.starts[[2]int64{0, 0}] // thread 0 has no stagger
	var offs []time.Duration
	for k, at := range log.starts {
		off := at.Sub(base) - s.due(int(k[0]), k[1])
		offs = append(offs, max(off, -off))
	}
	// A thread may skip its second-to-last call when it is late past the
	// run's end, so allow a few missing.
	if want := int(qps * duration.Seconds()); len(offs) < want-threads || len(offs) > want {
		t.Fatalf("fortio made %d calls, want %d", len(offs), want)
	}
	// Every call starts a little after its due time (timer and scheduler
	// slack, more on a busy machine); a wrong schedule would drift, call
	// after call, so the spread of the offsets is what must stay small.
	slices.Sort(offs)
	p10, p50, p90 := offs[len(offs)/10], offs[len(offs)/2], offs[len(offs)*9/10]
	if p90-p10 > 3*time.Millisecond || p50 > 20*time.Millisecond {
		t.Errorf("|start - due| p10 %v, p50 %v, p90 %v: want a spread under 3ms around a median under 20ms (all: %v)", p10, p50, p90, offs)
	}
}

// The tracker tells the target's lag from the generator's own, fed with
// made-up call times.
func TestLagTrackerSeparatesTargetLagFromOwnLag(t *testing.T) {
	s := newSchedule(100, 1, 40, 0, false) // one call due every ~10.1ms
	base := time.Unix(1000, 0)
	run := func(next func(due, prevEnd time.Time) (start time.Time, latency time.Duration)) (*lagTracker, *ScheduleResult) {
		l := newLagTracker(s)
		var prevEnd time.Time
		for i := range int64(40) {
			due := base.Add(s.due(0, i))
			start, latency := next(due, prevEnd)
			l.record(base, 0, i, start, latency)
			prevEnd = start.Add(latency)
		}
		return l, l.result(100)
	}
	later := func(a, b time.Time) time.Time {
		if b.After(a) {
			return b
		}
		return a
	}

	// A target that holds calls 10 and 11 for 200ms each: the calls behind
	// them start up to ~380ms late, but each as soon as its connection is
	// free.
	l, r := run(func(due, prevEnd time.Time) (time.Time, time.Duration) {
		start := later(due, prevEnd)
		if due.Sub(base) >= 100*time.Millisecond && due.Sub(base) < 120*time.Millisecond {
			return start, 200 * time.Millisecond
		}
		return start, time.Millisecond
	})
	if r.Behind || r.OwnLag.Max != 0 {
		t.Errorf("slow target: Behind %v, own lag %+v; want not behind and no own lag", r.Behind, r.OwnLag)
	}
	if r.StartLag.Max < 370*time.Millisecond || r.StartLag.Max > 390*time.Millisecond {
		t.Errorf("slow target: start lag max %v, want about 380ms", r.StartLag.Max)
	}
	if in := l.intended.percentiles(); in.Max < 380*time.Millisecond || in.Max > 400*time.Millisecond {
		t.Errorf("slow target: intended max %v, want about 390ms", in.Max)
	}
	if r.AchievedRatio != 1 || r.QPS != 100 || r.Bound != minBehindBound {
		t.Errorf("QPS %v, AchievedRatio %v, Bound %v; want 100, 1, %v", r.QPS, r.AchievedRatio, r.Bound, minBehindBound)
	}

	// The same run that fell short of its rate over all is behind.
	if short := l.result(50); !short.Behind {
		t.Errorf("half the rate achieved: %+v, want behind", short)
	}

	// A generator that sends every call 60ms after its connection is free
	// and the call is due.
	_, r = run(func(due, prevEnd time.Time) (time.Time, time.Duration) {
		return later(due, prevEnd).Add(60 * time.Millisecond), time.Millisecond
	})
	if !r.Behind || r.OwnLag.P99 < 58*time.Millisecond || r.OwnLag.P99 > 62*time.Millisecond {
		t.Errorf("late generator: Behind %v, own lag %+v; want behind, p99 about 60ms", r.Behind, r.OwnLag)
	}

	// Calls on time: no lag at all; intended latency is the latency.
	l, r = run(func(due, _ time.Time) (time.Time, time.Duration) { return due, 2 * time.Millisecond })
	if r.Behind || r.StartLag.Max != 0 || r.OwnLag.Max != 0 {
		t.Errorf("on time: %+v", r)
	}
	if in := l.intended.percentiles(); in.Min != 2*time.Millisecond || in.Max != 2*time.Millisecond {
		t.Errorf("on time: intended %+v, want 2ms throughout", in)
	}
}

// A generator that spends 70ms after each call before it gets to the next
// one (as a starved process would) is flagged as behind, in a real run.
func TestRunFlagsAGeneratorThatFallsBehind(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	spec := Spec{URL: srv.URL, QPS: 100, Connections: 1, Requests: 12}
	res, err := NewFortio().run(t.Context(), spec, func() { time.Sleep(70 * time.Millisecond) })
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	sch := res.Schedule
	if sch == nil || res.Intended == nil {
		t.Fatalf("a rate-limited run has no Schedule (%v) or Intended (%v)", sch, res.Intended)
	}
	if !sch.Behind || sch.OwnLag.P99 <= sch.Bound {
		t.Errorf("Behind %v, own lag %+v, bound %v; want behind, own lag p99 over the bound", sch.Behind, sch.OwnLag, sch.Bound)
	}
	if sch.AchievedRatio > 0.5 {
		t.Errorf("AchievedRatio %v, want well under 1 (at most 14 qps of 100)", sch.AchievedRatio)
	}
}

func TestCoarseBuckets(t *testing.T) {
	prev := 0
	for _, d := range []time.Duration{0, 1023, 1024, 1448, 1449, 2048, time.Millisecond, time.Second, time.Hour, 1<<63 - 1} {
		i := coarseBucketOf(d)
		if i < prev || i >= coarseBuckets {
			t.Errorf("coarseBucketOf(%v) = %d, after %d", d, i, prev)
		}
		prev = i
		if d >= 2048 && d < time.Hour {
			if mid := coarseBucketMid(i); float64(mid) < float64(d)/1.42 || float64(mid) > float64(d)*1.42 {
				t.Errorf("bucket %d of %v has middle %v, more than √2 away", i, d, mid)
			}
		}
	}
	if got := coarseBucketOf(1448); got != 1 {
		t.Errorf("coarseBucketOf(1448) = %d, want 1 (below 1024·√2)", got)
	}
	if got := coarseBucketOf(1449); got != 2 {
		t.Errorf("coarseBucketOf(1449) = %d, want 2", got)
	}
}

func TestSeriesStaysSmall(t *testing.T) {
	for _, d := range []time.Duration{time.Second, time.Hour, 1000 * time.Hour} {
		s := newSeries(d)
		if len(s.bins) > maxSeriesBins || s.width < minSeriesBin {
			t.Errorf("%v: %d bins of %v", d, len(s.bins), s.width)
		}
	}
	if got := newSeries(1500 * time.Millisecond); len(got.bins) != 15 || got.width != 100*time.Millisecond {
		t.Errorf("1.5s: %d bins of %v, want 15 of 100ms", len(got.bins), got.width)
	}
}

// Report, the per-call hot path, allocates nothing, phases and schedule
// included.
func TestReportDoesNotAllocate(t *testing.T) {
	spec := Spec{QPS: 100, Connections: 2, Duration: time.Second, PhaseEdges: []time.Duration{300 * time.Millisecond}}
	tr := newTracker(spec, newSchedule(100, 2, 0, time.Second, false))
	ctx := context.Background()
	at := time.Now()
	tr.Start(ctx, 0, 0, at)
	var i int64
	allocs := testing.AllocsPerRun(1000, func() {
		i++
		tr.Start(ctx, 1, i, at)
		tr.Report(ctx, 1, i, at.Add(time.Duration(i)*time.Millisecond), 0.002, true, "503")
	})
	if allocs != 0 {
		t.Errorf("Start+Report allocate %v times a call, want 0", allocs)
	}
}
