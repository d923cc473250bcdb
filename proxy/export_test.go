package proxy

import "time"

// SetClock makes the proxies started with o use now as outlier detection's
// monotonic clock, so tests advance time instead of sleeping.
func SetClock(o *Options, now func() time.Duration) { o.now = now }
