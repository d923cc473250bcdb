package proxy_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/wait"
	"github.com/faultline/faultline/proxy"
)

// gauges are the Stats fields that hold a level, not a count: Sub keeps
// them as they are.
var gauges = []string{
	"Totals.TunnelsActive",
	"ListenerStats.Active",
	"ClusterStats.UpstreamRqActive",
	"ClusterStats.MembershipTotal",
	"PolicyStats.UpstreamRqPendingActive",
	"PolicyStats.UpstreamCxActive",
	"PolicyStats.MembershipHealthy",
	"PolicyStats.CxOpen",
	"PolicyStats.RqPendingOpen",
	"PolicyStats.RqOpen",
	"PolicyStats.RqRetryOpen",
	"PolicyStats.EjectionsActive",
}

// fill sets every int64 of v, a struct, to n, recursively, and gives its
// maps one key; it returns the fields it set as "Type.Field".
func fill(v reflect.Value, n int64) []string {
	var out []string
	for i := 0; i < v.NumField(); i++ {
		f, sf := v.Field(i), v.Type().Field(i)
		name := v.Type().Name() + "." + sf.Name
		switch f.Kind() {
		case reflect.Int64:
			f.SetInt(n)
			out = append(out, name)
		case reflect.Struct:
			out = append(out, fill(f, n)...)
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]int64{"k": n}))
		}
	}
	return out
}

// check reports the int64 fields of v that are not want (or, for a
// gauge, not cur).
func check(t *testing.T, v reflect.Value, want, cur int64) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		f, sf := v.Field(i), v.Type().Field(i)
		name := v.Type().Name() + "." + sf.Name
		switch f.Kind() {
		case reflect.Int64:
			w := want
			if slices.Contains(gauges, name) {
				w = cur
			}
			if f.Int() != w {
				t.Errorf("%s = %d, want %d", name, f.Int(), w)
			}
		case reflect.Struct:
			check(t, f, want, cur)
		case reflect.Map:
			if m := f.Interface().(map[string]int64); m["k"] != want || len(m) != 1 {
				t.Errorf("%s = %v, want k:%d", name, m, want)
			}
		}
	}
}

// Every counter of every block is subtracted and every gauge kept: a
// field added later must be placed on one side or the other.
func TestStatsSubEveryField(t *testing.T) {
	build := func(n int64) (proxy.Stats, []string) {
		var s proxy.Stats
		fields := fill(reflect.ValueOf(&s.Totals).Elem(), n)
		l, r, c := proxy.ListenerStats{Name: "mesh"}, proxy.RouteStats{VirtualService: "vs", Name: "r"}, proxy.ClusterStats{Name: "c"}
		fields = append(fields, fill(reflect.ValueOf(&l).Elem(), n)...)
		fields = append(fields, fill(reflect.ValueOf(&r).Elem(), n)...)
		fields = append(fields, fill(reflect.ValueOf(&c).Elem(), n)...)
		s.Listeners, s.Routes, s.Clusters = []proxy.ListenerStats{l}, []proxy.RouteStats{r}, []proxy.ClusterStats{c}
		return s, fields
	}
	cur, fields := build(10)
	prev, _ := build(3)
	for _, g := range gauges {
		if !slices.Contains(fields, g) {
			t.Errorf("gauge %s is no field", g)
		}
	}
	d := cur.Sub(prev)
	check(t, reflect.ValueOf(d.Totals), 7, 10)
	check(t, reflect.ValueOf(d.Listeners[0]), 7, 10)
	check(t, reflect.ValueOf(d.Routes[0]), 7, 10)
	check(t, reflect.ValueOf(d.Clusters[0]), 7, 10)
	if d.Listeners[0].Name != "mesh" || d.Routes[0].VirtualService != "vs" || d.Routes[0].Name != "r" || d.Clusters[0].Name != "c" {
		t.Errorf("names lost: %+v %+v %+v", d.Listeners[0], d.Routes[0], d.Clusters[0])
	}
	// The result shares no map with its operands.
	d.ByFlag["k"] = 99
	if cur.ByFlag["k"] != 10 {
		t.Error("Sub aliases the ByFlag map")
	}
}

// A run on a long-lived proxy reports the counters of its own window:
// what came before is subtracted, what appeared since (a new cluster, a
// new route, a new flag) counts in full, and zero differences leave the
// maps.
func TestStatsSubWindow(t *testing.T) {
	reviews, ratings := newUpstream(t, "reviews"), newUpstream(t, "ratings")
	baseline := experiment(svc("reviews", 9080, reviews.addr()))
	h := start(t, baseline)
	for i := 0; i < 3; i++ {
		expect(t, h.get("reviews", "/"), 200, "reviews")
	}
	expect(t, h.get("nowhere", "/"), 502, "")
	wait.For(t, 5*time.Second, "the requests to end", func() bool { return idle(h.p) })
	before := h.p.Stats()

	overlay := experiment(svc("reviews", 9080, reviews.addr())+svc("ratings", 9080, ratings.addr()), faultVS(`{abort: {httpStatus: 503, percentage: {value: 100}}}`))
	if err := h.p.Apply(parse(t, overlay)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		expect(t, h.get("reviews", "/"), 503, "fault filter abort")
	}
	for i := 0; i < 2; i++ {
		expect(t, h.get("ratings", "/"), 200, "ratings")
	}
	wait.For(t, 5*time.Second, "the requests to end", func() bool { return idle(h.p) })
	d := h.p.Stats().Sub(before)

	l, _ := d.Listener("mesh")
	if l.Requests != 6 || l.Rq2xx != 2 || l.Rq5xx != 4 || l.BlockAll != 0 || l.AbortsInjected != 4 {
		t.Errorf("mesh in the window: %+v", l)
	}
	if d.FaultsAborted != 4 || d.UpstreamRequests != 2 {
		t.Errorf("totals in the window: aborted %d, upstream %d; want 4, 2", d.FaultsAborted, d.UpstreamRequests)
	}
	if got := fmt.Sprint(d.ByFlag); got != "map[FI:4]" {
		t.Errorf("flags in the window %s, want FI:4 alone (NR of the 502 came before)", got)
	}
	rv, _ := d.Cluster("outbound|9080||reviews.default.svc.cluster.local")
	rt, _ := d.Cluster("outbound|9080||ratings.default.svc.cluster.local")
	if rv.UpstreamRqTotal != 0 || len(rv.Codes) != 0 || rv.MembershipTotal != 1 {
		t.Errorf("reviews in the window: total %d, codes %v, membership %d; want 0, none, 1", rv.UpstreamRqTotal, rv.Codes, rv.MembershipTotal)
	}
	if rt.UpstreamRqTotal != 2 || rt.Codes["upstream_rq_200"] != 2 || rt.MembershipTotal != 1 {
		t.Errorf("ratings, new in the window: total %d, codes %v, membership %d", rt.UpstreamRqTotal, rt.Codes, rt.MembershipTotal)
	}
	if r, ok := d.Route("reviews", 0); !ok || r.Matched != 4 || r.AbortsInjected != 4 {
		t.Errorf("the overlay's route: %+v (found %v)", r, ok)
	}
	var names []string
	for _, l := range d.Listeners {
		names = append(names, l.Name)
	}
	if got := strings.Join(names, " "); got != "mesh" {
		t.Errorf("listeners %s", got)
	}
}
