// Package scenarios is Faultline's document model: the types of the
// documents a user writes, and the parsing, strict decoding and validation
// that turn their YAML or JSON into values the rest of Faultline runs.
//
// The documents are Faultline's own kinds — Experiment (what to run,
// against what, with which load, and what must hold), Environment (a
// long-lived data plane and its baseline) and GameDay (an ordered list of
// experiments framed by steady-state checks) — and the Istio networking
// resources beside them: VirtualService, DestinationRule, Gateway and
// ServiceEntry, field for field as istio/api defines them, under
// networking.istio.io v1alpha3, v1beta1 and v1.
//
// Parse, ParseOn, ParseEnvironment, ParseOverlay and ParseGameDay read a
// stream strictly: an unknown field is an error, and so is a field Istio
// knows that Faultline does not implement. They then validate it with
// Istio's own rules (validate_vs.go, validate_dr.go, validate_gateway.go,
// validate_se.go) and Faultline's (services, load, hypothesis, abort
// conditions, schedules, containers). What Istio rejects is an error, what
// it accepts but ignores or deprecates a warning; every Problem names its
// document, its field path and, where known, its line. IstioVersion and Defaults hold the
// behaviours that depend on the Istio release an experiment names. The
// package imports nothing else of Faultline's: the proxy, the engine and
// the server all build on it. docs/architecture.md (The document) and
// docs/istio.md (Validation) describe the model and its rules.
//
// The .yaml files beside the code are not Go test data but the example
// experiments Faultline ships, embedded by examples.go: Examples returns
// them, `faultline scenarios` lists them, and `faultline serve` loads them
// into an empty database. Most reproduce the reference scenarios of
// docs/scenarios.md (ingress-gateway-paths, egress-gateway,
// reviews-timeout, ratings-retries and its -upstream-slow and -5xx
// variants, httpbin-circuit-breaker, ratings-fault-jason and its -abort
// variant, httpbin-mirror and its -50 and -istio-1.8 variants); the
// others (httpbin-abort, httpbin-delay, httpbin-traffic-shift,
// httpbin-steady-state) are small experiments for a first tour and the
// example game day. gamedays/stored holds that game day as the server
// stores it, embedded too (GameDayExamples); gamedays/httpbin-gameday.yaml
// is the same game day naming its experiments by file, for `faultline
// gameday run`. testdata holds the inputs of this package's tests.
package scenarios
