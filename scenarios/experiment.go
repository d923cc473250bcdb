package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Experiment is Faultline's own document: what to run, against what, and
// what must hold afterwards.
type Experiment struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   ObjectMeta     `json:"metadata"`
	Spec       ExperimentSpec `json:"spec"`
}

// ExperimentSpec is the body of an Experiment.
type ExperimentSpec struct {
	// IstioVersion selects whose defaults apply ("1.8"); empty means current.
	IstioVersion string    `json:"istioVersion,omitempty"`
	Services     []Service `json:"services,omitempty"`
	Load         *Load     `json:"load,omitempty"`
	Hypothesis   []Check   `json:"hypothesis,omitempty"`
	// Seed fixes the fault and routing draws so a run can be replayed; 0
	// means a fresh seed per run.
	Seed int64 `json:"seed,omitempty"`
	// Schedule, when set, has the server start runs of the experiment on
	// a timetable.
	Schedule *Schedule `json:"schedule,omitempty"`
	// Abort lists conditions on the live data that halt the run (status
	// "stopped"), separate from the hypothesis that grades it.
	Abort []AbortCondition `json:"abort,omitempty"`
	// Traffic holds Istio resources inline; they mean the same as resources
	// standing beside the Experiment in the stream.
	Traffic []RawResource `json:"traffic,omitempty"`
	// Actions are timed actions on container endpoints during the load.
	Actions []ContainerAction `json:"actions,omitempty"`
	// Environment names a stored Environment the experiment runs on: its
	// Istio resources are laid over the environment's baseline for the
	// run, and its services (if any) are additions to the environment's.
	Environment string `json:"environment,omitempty"`
	// Phases, when set, splits one run of steady load into a baseline
	// without the experiment's faults, the fault phase with them and a
	// recovery without them again; load.duration is then their sum.
	Phases *Phases `json:"phases,omitempty"`
	// Faults are faults Istio has no field for: on each upstream attempt
	// of a route (so its retries meet them) or on its mirrored copies
	// only. The Istio resources stay what Istio accepts.
	Faults []ExperimentFault `json:"faults,omitempty"`
}

// Phase names, in the order a phased run goes through them.
const (
	PhaseBaseline = "baseline"
	PhaseFault    = "fault"
	PhaseRecovery = "recovery"
)

// PhaseNames lists the phases of a phased run in order.
func PhaseNames() []string { return []string{PhaseBaseline, PhaseFault, PhaseRecovery} }

// Phases are the lengths of a phased run's three phases.
type Phases struct {
	Baseline *Duration `json:"baseline"`
	Fault    *Duration `json:"fault"`
	Recovery *Duration `json:"recovery"`
}

// Lengths returns the three phases' lengths in order (an unset one is 0).
func (p *Phases) Lengths() [3]time.Duration {
	var out [3]time.Duration
	for i, d := range []*Duration{p.Baseline, p.Fault, p.Recovery} {
		if d != nil {
			out[i] = d.D()
		}
	}
	return out
}

// Total is the sum of the three phases.
func (p *Phases) Total() time.Duration {
	l := p.Lengths()
	return l[0] + l[1] + l[2]
}

// Where an ExperimentFault strikes (its "on").
const (
	// FaultOnAttempts strikes each upstream attempt of the route, retries
	// included, after the route's own fault stage.
	FaultOnAttempts = "attempts"
	// FaultOnShadows strikes only the mirrored copies of the route's
	// requests (shadow chaos); the primary requests are untouched.
	FaultOnShadows = "shadows"
)

// ExperimentFault is a fault Istio cannot express: on upstream attempts
// or on mirrored copies of the requests a VirtualService's rules match.
type ExperimentFault struct {
	// Name labels the fault in the report's injection accounting.
	Name string `json:"name,omitempty"`
	// VirtualService names the VirtualService whose rules it acts on.
	VirtualService string `json:"virtualService"`
	// Route names one http rule of it; empty means every rule.
	Route string `json:"route,omitempty"`
	// On is FaultOnAttempts or FaultOnShadows.
	On    string      `json:"on"`
	Delay *FaultDelay `json:"delay,omitempty"`
	Abort *FaultAbort `json:"abort,omitempty"`
}

// Service binds an Istio host name to endpoints, since there is no
// Kubernetes registry.
type Service struct {
	Host string `json:"host"`
	Port uint32 `json:"port,omitempty"`
	// Gateway binds the host to a Gateway's own listener (the egress
	// gateway's service, for instance) instead of endpoints.
	Gateway   string     `json:"gateway,omitempty"`
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// Listen, in an Environment only, is the address of a listener for
	// clients that ignore HTTP_PROXY: a request arriving there is routed
	// as if it had been sent to this host and port.
	Listen string `json:"listen,omitempty"`
}

// Endpoint is one instance of a service: an address, or a built-in demo
// target started for the run.
type Endpoint struct {
	Address string            `json:"address,omitempty"`
	Demo    string            `json:"demo,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	// Container is a local container the run starts and points the
	// endpoint at (see container.go).
	Container *Container `json:"container,omitempty"`
}

// Load is the fortio load sent through the proxy.
type Load struct {
	URL string `json:"url"`
	// Via is "mesh" (default) or the name of a Gateway to enter through.
	Via         string            `json:"via,omitempty"`
	Method      string            `json:"method,omitempty"`
	Connections int               `json:"connections,omitempty"`
	QPS         float64           `json:"qps,omitempty"`
	Requests    int64             `json:"requests,omitempty"`
	Duration    *Duration         `json:"duration,omitempty"`
	Timeout     *Duration         `json:"timeout,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Body        string            `json:"body,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
	Uniform     bool              `json:"uniform,omitempty"`
	Jitter      bool              `json:"jitter,omitempty"`
	// Agents are fortio agents (`fortio server` or `faultline agent`) to
	// send the load from instead of Faultline's own process: the base URL
	// of each one's REST API, http://host:port with or without /fortio/.
	// Each sends a share of the load to the run's entry listener; their
	// results are merged.
	Agents []string `json:"agents,omitempty"`
}

// Check is one hypothesis: metric op value.
type Check struct {
	Metric string `json:"metric"`
	// Status is the HTTP code of a status_ratio check.
	Status int       `json:"status,omitempty"`
	Op     string    `json:"op"`
	Value  Threshold `json:"value"`
	// Phase, in a phased run, grades the metric over one phase only
	// (PhaseBaseline, PhaseFault or PhaseRecovery) instead of the run.
	Phase string `json:"phase,omitempty"`
}

// String renders the check as a user wrote it: "status_ratio 503 > 0",
// "error_ratio < 0.01 in recovery".
func (c Check) String() string {
	metric := c.Metric
	if c.Status != 0 {
		metric += " " + strconv.Itoa(c.Status)
	}
	s := fmt.Sprintf("%s %s %s", metric, c.Op, c.Value)
	if c.Phase != "" {
		s += " in " + c.Phase
	}
	return s
}

// AbortCondition halts a run when a metric over a sliding window crosses a
// threshold on For consecutive checks (one check a second).
type AbortCondition struct {
	// Metric is error_ratio, status_ratio, qps, latency_p50 or latency_p99.
	// Ratios and qps are computed over Window; latencies are the rolling
	// percentiles of the last second.
	Metric string    `json:"metric"`
	Status int       `json:"status,omitempty"`
	Op     string    `json:"op"`
	Value  Threshold `json:"value"`
	// Window is the sliding window of ratios and qps; default 10s.
	Window *Duration `json:"window,omitempty"`
	// For is how many consecutive checks must hold; default 1.
	For int `json:"for,omitempty"`
}

// String renders the condition: "error_ratio > 0.5 over 10s, 3 checks in a row".
func (a AbortCondition) String() string {
	s := Check{Metric: a.Metric, Status: a.Status, Op: a.Op, Value: a.Value}.String()
	s += " over " + a.WindowOrDefault().String()
	if n := a.ForOrDefault(); n > 1 {
		s += fmt.Sprintf(", %d checks in a row", n)
	}
	return s
}

// WindowOrDefault is Window, or 10 s when unset.
func (a AbortCondition) WindowOrDefault() time.Duration {
	if a.Window == nil {
		return 10 * time.Second
	}
	return a.Window.D()
}

// ForOrDefault is For, or 1 when unset.
func (a AbortCondition) ForOrDefault() int {
	if a.For <= 0 {
		return 1
	}
	return a.For
}

// Threshold is a hypothesis value: a plain number, or a duration ("2s")
// for latency metrics, kept in milliseconds.
type Threshold struct {
	Value    float64
	Duration bool
	text     string
}

// UnmarshalText accepts a number or a duration string.
func (t *Threshold) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		*t = Threshold{Value: f, text: s}
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("must be a number or a duration such as 250ms, not %q", s)
	}
	*t = Threshold{Value: float64(d) / float64(time.Millisecond), Duration: true, text: s}
	return nil
}

// MarshalText renders the threshold as written.
func (t Threshold) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// String renders the threshold as written.
func (t Threshold) String() string {
	if t.text != "" {
		return t.text
	}
	return strconv.FormatFloat(t.Value, 'g', -1, 64)
}
