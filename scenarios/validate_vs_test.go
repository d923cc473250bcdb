package scenarios_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// vs wraps http rules (YAML under `http:`) in a VirtualService t for host
// reviews; extra is inserted into spec before http.
func vs(extra, http string) string {
	return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: t}\nspec:\n  hosts: [reviews]\n" + extra + "  http:\n" + http
}

// rule is a single http rule routed to reviews v1, with more fields.
func rule(fields string) string {
	return vs("", "  - route: [{destination: {host: reviews, subset: v1}}]\n"+fields)
}

const toV1 = "    route: [{destination: {host: reviews, subset: v1}}]\n"

func TestValidateVirtualServiceHosts(t *testing.T) {
	runLintCases(t, "VirtualService", []lintCase{
		{name: "minimal", yaml: rule("")},
		{name: "fqdn and wildcard", yaml: strings.Replace(rule(""), "[reviews]", "[reviews.default.svc.cluster.local, '*.reviews.example.com']", 1)},
		{name: "no hosts: a delegate, valid on its own", yaml: strings.Replace(rule(""), "  hosts: [reviews]\n", "", 1)},
		{name: "star on mesh", yaml: strings.Replace(rule(""), "[reviews]", `["*"]`, 1),
			want: []want{errAt("spec.hosts[0]", "wildcard host * is not allowed for virtual services bound to the mesh gateway")}},
		{name: "star on gateway and mesh", yaml: strings.Replace(rule(""), "  hosts: [reviews]\n", "  hosts: [\"*\"]\n  gateways: [gw, mesh]\n", 1),
			want: []want{errAt("spec.hosts[0]", "bound to the mesh gateway")}},
		{name: "star on gateway only", yaml: strings.Replace(rule(""), "  hosts: [reviews]\n", "  hosts: [\"*\"]\n  gateways: [gw]\n", 1)},
		{name: "ip on gateway", yaml: strings.Replace(rule(""), "  hosts: [reviews]\n", "  hosts: [10.0.0.1]\n  gateways: [gw]\n", 1)},
		{name: "overlapping wildcards", yaml: strings.Replace(rule(""), "  hosts: [reviews]\n", "  hosts: ['*.foo.example.com', '*.example.com']\n  gateways: [gw]\n", 1),
			want: []want{errAt("spec.hosts[1]", "duplicate hosts in virtual service: *.foo.example.com & *.example.com")}},
		{name: "literal duplicate", yaml: strings.Replace(rule(""), "[reviews]", "[reviews, reviews]", 1),
			want: []want{errAt("spec.hosts[1]", "duplicate hosts")}},
		{name: "short and long name", yaml: strings.Replace(rule(""), "[reviews]", "[reviews, reviews.default.svc.cluster.local]", 1),
			want: []want{warnAt("spec.hosts[1]", "name the same service")}},
		{name: "hosts differing in case", yaml: strings.Replace(rule(""), "[reviews]", "[Reviews, reviews]", 1),
			want: []want{warnAt("spec.hosts[1]", "Reviews and reviews name the same service (host names are case-insensitive")}},
		{name: "bad host", yaml: strings.Replace(rule(""), "[reviews]", "[rev_iews]", 1),
			want: []want{errAt("spec.hosts[0]", `label "rev_iews" invalid`)}},
		{name: "numeric tld", yaml: strings.Replace(rule(""), "[reviews]", "[reviews.123]", 1),
			want: []want{errAt("spec.hosts[0]", "cannot be all-numeric")}},
		{name: "no routes", yaml: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: t}\nspec:\n  hosts: [reviews]\n",
			want: []want{errAt("spec.http", "http, tcp or tls must be provided")}},
	})
}

func TestValidateVirtualServiceGatewaysAndExportTo(t *testing.T) {
	runLintCases(t, "VirtualService", []lintCase{
		{name: "namespaced gateway", yaml: vs("  gateways: [default/gw]\n", "  - route: [{destination: {host: reviews}}]\n")},
		{name: "legacy gateway name", yaml: vs("  gateways: [gw.default]\n", "  - route: [{destination: {host: reviews}}]\n"),
			want: []want{
				warnAt("spec.gateways[0]", `using legacy gateway name format "gw.default"; prefer the <namespace>/<name> format: "default/gw"`),
			}},
		{name: "bad gateway names", yaml: vs("  gateways: [bad_gw, default/]\n", "  - route: [{destination: {host: reviews}}]\n"),
			want: []want{
				errAt("spec.gateways[0]", "invalid gateway name"),
				warnAt("spec.gateways[0]", "names no Gateway"),
				errAt("spec.gateways[1]", "cannot be empty"),
				warnAt("spec.gateways[1]", "names no Gateway"),
			}},
		{name: "match gateways", yaml: vs("  gateways: [gw, mesh]\n", "  - match: [{gateways: [mesh], port: 9080}, {gateways: [bad_ns/gw]}]\n"+toV1),
			want: []want{
				errAt("spec.http[0].match[1].gateways[0]", `invalid value for namespace: "bad_ns"`),
				warnAt("spec.http[0].match[1].gateways[0]", "names no Gateway of this experiment"),
			}},
		{name: "export to", yaml: vs("  exportTo: [., istio-system]\n", "  - route: [{destination: {host: reviews}}]\n")},
		{name: "export star and more", yaml: vs("  exportTo: [., '*']\n", "  - route: [{destination: {host: reviews}}]\n"),
			want: []want{errAt("spec.exportTo[1]", "* cannot be combined with other exportTo entries")}},
		{name: "export duplicate", yaml: vs("  exportTo: [default, ., foo, foo, \"~\", Bad_ns]\n", "  - route: [{destination: {host: reviews}}]\n"),
			want: []want{
				errAt("spec.exportTo[1]", "duplicate entries in exportTo: . and current namespace default"),
				errAt("spec.exportTo[3]", "duplicate entries in exportTo for entry foo"),
				errAt("spec.exportTo[4]", "only allowed in a ServiceEntry"),
				errAt("spec.exportTo[4]", "~ cannot be combined"),
				errAt("spec.exportTo[5]", "must be \".\", \"*\" or a namespace name"),
			}},
	})
}

func TestValidateVirtualServiceActions(t *testing.T) {
	const fault = "    fault: {abort: {httpStatus: 500, percentage: {value: 10}}}\n"
	const rewrite = "    rewrite: {uri: /x}\n"
	runLintCases(t, "VirtualService", []lintCase{
		{name: "no action", yaml: vs("", "  - timeout: 1s\n"),
			want: []want{errAt("spec.http[0]", "needs exactly one of route, redirect, directResponse or delegate")}},
		{name: "route and redirect", yaml: rule("    redirect: {uri: /x}\n"),
			want: []want{errAt("spec.http[0].redirect", "both route and redirect")}},
		{name: "redirect with fault and rewrite", yaml: vs("", "  - redirect: {uri: /x}\n"+fault+rewrite),
			want: []want{
				errAt("spec.http[0].redirect", "both fault and redirect"),
				errAt("spec.http[0].redirect", "both rewrite and redirect"),
			}},
		{name: "direct response with everything", yaml: rule("    directResponse: {status: 503}\n" + fault + rewrite),
			want: []want{
				errAt("spec.http[0].directResponse", "both route and directResponse"),
				errAt("spec.http[0].directResponse", "both fault and directResponse"),
				errAt("spec.http[0].directResponse", "both rewrite and directResponse"),
			}},
		{name: "redirect and direct response", yaml: vs("", "  - redirect: {uri: /x}\n    directResponse: {status: 200}\n"),
			want: []want{errAt("spec.http[0].directResponse", "both redirect and directResponse")}},
		{name: "mirror and mirrors", yaml: rule("    mirror: {host: reviews, subset: v2}\n    mirrors: [{destination: {host: reviews, subset: v2}}]\n"),
			want: []want{errAt("spec.http[0].mirrors", "both mirror and mirrors")}},
	})
}

func TestValidateVirtualServiceMatch(t *testing.T) {
	long := strings.Repeat("a", 1025)
	runLintCases(t, "VirtualService", []lintCase{
		{name: "valid matchers", yaml: vs("", `  - match:
    - uri: {prefix: /api}
      method: {exact: GET}
      scheme: {regex: "https?"}
      authority: {prefix: reviews}
      headers:
        end-user: {exact: jason}
        x-present: {}
        x-any: {regex: "*"}
        x_under: {prefix: a}
      withoutHeaders: {x-skip: {exact: "1"}}
      queryParams: {debug: {exact: ""}, id: {regex: "\\d+"}}
      ignoreUriCase: true
      port: 9080
      name: api
`+toV1)},
		{name: "empty block", yaml: vs("", "  - match: [{}]\n"+toV1),
			want: []want{warnAt("spec.http[0].match[0]", "an HTTPMatchRequest cannot be empty")}},
		{name: "two match types", yaml: vs("", "  - match: [{uri: {exact: /a, prefix: /b}}]\n"+toV1),
			want: []want{errAt("spec.http[0].match[0].uri", "set exactly one of exact, prefix or regex")}},
		{name: "no match type on method", yaml: vs("", "  - match: [{uri: {prefix: /a}, method: {}}]\n"+toV1),
			want: []want{warnAt("spec.http[0].match[0].method", "matches every request")}},
		{name: "bad regexes", yaml: vs("", "  - match: [{uri: {regex: \"(\"}, headers: {x-a: {regex: \""+long+"\"}, x-b: {regex: \"\"}}}]\n"+toV1),
			want: []want{
				errAt("spec.http[0].match[0].uri.regex", "missing closing )"),
				errAt("spec.http[0].match[0].headers.x-a.regex", "regex is too large (1025 characters), max length allowed is 1024"),
				errAt("spec.http[0].match[0].headers.x-b.regex", "regex must not be empty"),
			}},
		{name: "star regex on uri", yaml: vs("", "  - match: [{uri: {regex: \"*\"}}]\n"+toV1),
			want: []want{errAt("spec.http[0].match[0].uri.regex", "missing argument to repetition operator")}},
		{name: "header keys", yaml: vs("", `  - match:
    - headers:
        End-User: {exact: jason}
        uri: {exact: /a}
        end user: {exact: jason}
        x-e: {prefix: ""}
      uri: {prefix: ""}
`+toV1),
			want: []want{
				warnAt("spec.http[0].match[0].headers.End-User", "should be lowercase"),
				warnAt("spec.http[0].match[0].headers.uri", "is ignored by Istio: use the match's own uri field"),
				errAt("spec.http[0].match[0].headers.end user", "is not a valid header name"),
				errAt("spec.http[0].match[0].headers.x-e.prefix", "must not be empty"),
			}},
		{name: "query and without headers", yaml: vs("", "  - match: [{queryParams: {q: {prefix: \"\"}}, withoutHeaders: {method: {exact: GET}}}]\n"+toV1),
			want: []want{
				errAt("spec.http[0].match[0].queryParams.q.prefix", "must not be empty"),
				warnAt("spec.http[0].match[0].withoutHeaders.method", "is ignored by Istio"),
			}},
		{name: "jwt claim on mesh", yaml: vs("", "  - match: [{headers: {\"@request.auth.claims.group\": {exact: admin}}}]\n"+toV1),
			want: []want{errAt("spec.http[0].match[0].headers.@request.auth.claims.group", "only supported for gateways")}},
		{name: "jwt claim on gateway", yaml: strings.Replace(vs("  gateways: [gw]\n", "  - match: [{headers: {\"@request.auth.claims.group\": {exact: admin}}}]\n"+toV1), "[reviews]", "[reviews.example.com]", 1),
			want: []want{errAt("spec.http[0].match[0].headers.@request.auth.claims.group", "JWT claim based routing is not implemented by Faultline")}},
		{name: "source selectors", yaml: vs("", "  - match: [{sourceLabels: {app: productpage, \"bad key\": x}, sourceNamespace: Bad_ns}]\n"+toV1),
			want: []want{
				errAt("spec.http[0].match[0].sourceLabels.bad key", "invalid label key"),
				warnAt("spec.http[0].match[0].sourceLabels", "is unlabelled, so this match does not apply to it"),
				errAt("spec.http[0].match[0].sourceNamespace", "sourceNamespace match Bad_ns is invalid"),
				errAt("spec.http[0].match[0].sourceNamespace", "not implemented by Faultline"),
			}},
		{name: "port out of range", yaml: vs("", "  - match: [{port: 70000}]\n"+toV1),
			want: []want{errAt("spec.http[0].match[0].port", "port number 70000 must be in the range 1..65535")}},
	})
}

func TestValidateVirtualServiceUnreachable(t *testing.T) {
	jason := "  - match: [{headers: {end-user: {exact: jason}}}]\n" + toV1
	runLintCases(t, "VirtualService", []lintCase{
		{name: "catch-all last", yaml: vs("", jason+"  - route: [{destination: {host: reviews, subset: v2}}]\n")},
		{name: "no match first", yaml: vs("", "  - route: [{destination: {host: reviews}}]\n"+jason+jason),
			want: []want{
				warnAt("spec.http[1]", "is unreachable: spec.http[0] before it matches every request"),
				warnAt("spec.http[2]", "is unreachable: spec.http[0] before it matches every request"),
			}},
		{name: "prefix slash", yaml: vs("", "  - match: [{uri: {exact: /a}}, {uri: {prefix: /}, name: all}]\n"+toV1+jason),
			want: []want{warnAt("spec.http[1]", "spec.http[0] before it matches every request")}},
		{name: "regex dot star", yaml: vs("", "  - match: [{uri: {regex: .*}, ignoreUriCase: true}]\n"+toV1+jason),
			want: []want{warnAt("spec.http[1]", "VirtualServiceUnreachableRule")}},
		{name: "port-scoped match is no catch-all", yaml: vs("", "  - match: [{port: 9080}]\n"+toV1+jason)},
		{name: "prefix with header is no catch-all", yaml: vs("", "  - match: [{uri: {prefix: /}, headers: {x-a: {}}}]\n"+toV1+jason)},
		{name: "duplicate rule", yaml: vs("", jason+jason),
			want: []want{warnAt("spec.http[1]", "all its matches are used by earlier rules")}},
		{name: "duplicate match", yaml: vs("", jason+"  - match: [{headers: {end-user: {exact: bob}}}, {name: again, headers: {end-user: {exact: jason}}}]\n"+toV1),
			want: []want{warnAt("spec.http[1].match[1]", "is never used: spec.http[0].match[0] has the same conditions (VirtualServiceIneffectiveMatch)")}},
	})
}

func TestValidateVirtualServiceDestinations(t *testing.T) {
	two := func(w1, w2 string) string {
		return vs("", "  - route:\n    - {destination: {host: reviews, subset: v1}, weight: "+w1+"}\n    - {destination: {host: reviews, subset: v2}, weight: "+w2+"}\n")
	}
	runLintCases(t, "VirtualService", []lintCase{
		{name: "80/20", yaml: two("80", "20")},
		{name: "relative weights", yaml: two("1", "3")},
		{name: "relative weights before 1.15", istio: "1.14", yaml: two("1", "3"),
			want: []want{errAt("spec.http[0].route", "total destination weight 4 != 100: Istio 1.14 requires the weights to sum to 100")}},
		{name: "80/20 before 1.15", istio: "1.14", yaml: two("80", "20")},
		{name: "single destination before 1.15", istio: "1.8", yaml: rule("")},
		{name: "zero total", yaml: two("0", "0"),
			want: []want{errAt("spec.http[0].route", "total destination weight = 0")}},
		{name: "zero total before 1.15", istio: "1.14", yaml: two("0", "0"),
			want: []want{errAt("spec.http[0].route", "total destination weight = 0")}},
		{name: "negative weight", yaml: two("-10", "110"),
			want: []want{errAt("spec.http[0].route[0].weight", "weight -10 < 0")}},
		{name: "missing host", yaml: vs("", "  - route: [{destination: {subset: v1}}]\n"),
			want: []want{
				errAt("spec.http[0].route[0].destination.host", "is required"),
				warnAt("spec.http[0].route[0].destination.subset", "is defined by no DestinationRule"),
			}},
		{name: "star host", yaml: vs("", "  - route: [{destination: {host: \"*\"}}]\n"),
			want: []want{
				errAt("spec.http[0].route[0].destination.host", "invalid destination host *"),
			}},
		{name: "bad subset and port", yaml: vs("", "  - route: [{destination: {host: reviews, subset: v_1, port: {number: 0}}}]\n"),
			want: []want{
				errAt("spec.http[0].route[0].destination.subset", "subset name is invalid: v_1"),
				warnAt("spec.http[0].route[0].destination.subset", "is defined by no DestinationRule"),
				errAt("spec.http[0].route[0].destination.port.number", "port number 0 must be in the range 1..65535"),
			}},
	})
}

func TestValidateVirtualServiceRewriteRedirectDirectResponse(t *testing.T) {
	big := func(n int) string {
		return vs("", "  - directResponse: {status: 200, body: {bytes: "+base64.StdEncoding.EncodeToString(make([]byte, n))+"}}\n")
	}
	runLintCases(t, "VirtualService", []lintCase{
		{name: "valid rewrite", yaml: rule("    rewrite: {uriRegexRewrite: {match: \"^/v1/(.*)\", rewrite: /v2/\\1}, authority: ratings}\n")},
		{name: "empty rewrite", yaml: rule("    rewrite: {}\n"),
			want: []want{errAt("spec.http[0].rewrite", "at least one of uri, uriRegexRewrite or authority")}},
		{name: "uri and regex rewrite", yaml: rule("    rewrite: {uri: /, uriRegexRewrite: {match: \"(\", rewrite: \"\"}}\n"),
			want: []want{
				errAt("spec.http[0].rewrite.uriRegexRewrite", "only contain one of uri or uriRegexRewrite"),
				errAt("spec.http[0].rewrite.uriRegexRewrite.match", "missing closing )"),
				errAt("spec.http[0].rewrite.uriRegexRewrite.rewrite", "is required"),
			}},
		{name: "authority twice", yaml: rule("    rewrite: {authority: a.example.com}\n    headers: {request: {set: {host: b.example.com}}}\n"),
			want: []want{errAt("spec.http[0].headers.request.set.host", "authority header cannot be set multiple times: already set by spec.http[0].rewrite.authority")}},
		{name: "authority in set and add", yaml: rule("    headers: {request: {set: {Host: b.example.com}, add: {\":authority\": c.example.com}}}\n"),
			want: []want{errAt("spec.http[0].headers.request.add.:authority", "authority header cannot be set multiple times: already set by spec.http[0].headers.request.set.Host")}},
		{name: "valid redirects", yaml: vs("", `  - match: [{uri: {prefix: /old}}]
    redirect: {prefixRewrite: /new, scheme: https, derivePort: FROM_PROTOCOL_DEFAULT, redirectCode: 308}
  - redirect: {authority: example.com, port: 8443}
`)},
		{name: "empty redirect", yaml: vs("", "  - redirect: {redirectCode: 301}\n"),
			want: []want{errAt("spec.http[0].redirect", "redirect must specify uri, prefixRewrite, authority, scheme, port or derivePort")}},
		{name: "bad redirect fields", yaml: vs("", "  - redirect: {uri: /x, redirectCode: 305, scheme: ftp, port: 70000, derivePort: FROM_REQUEST_PORT}\n"),
			want: []want{
				errAt("spec.http[0].redirect.redirectCode", "305 is not a valid redirect code"),
				errAt("spec.http[0].redirect.scheme", `invalid redirect scheme "ftp"`),
				errAt("spec.http[0].redirect.port", "port number 70000"),
				errAt("spec.http[0].redirect.derivePort", "cannot be combined with port"),
			}},
		{name: "bad derive port", yaml: vs("", "  - redirect: {derivePort: FROM_NOWHERE}\n"),
			want: []want{errAt("spec.http[0].redirect.derivePort", "must be one of FROM_PROTOCOL_DEFAULT, FROM_REQUEST_PORT")}},
		{name: "prefix rewrite needs prefix matches", yaml: vs("", "  - match: [{uri: {prefix: /a}}, {uri: {exact: /b}}, {headers: {x: {}}}]\n    redirect: {prefixRewrite: /c, uri: /d}\n"),
			want: []want{
				errAt("spec.http[0].redirect.prefixRewrite", "cannot be combined with uri"),
				errAt("spec.http[0].redirect.prefixRewrite", "match[1].uri is not"),
			}},
		{name: "valid direct response", yaml: vs("", "  - directResponse: {status: 503, body: {string: unavailable}}\n    headers: {response: {set: {content-type: text/plain}}}\n")},
		{name: "bad direct response", yaml: vs("", "  - directResponse: {status: 600, body: {string: a, bytes: YQ==}}\n"),
			want: []want{
				errAt("spec.http[0].directResponse.status", "HTTP status 600 is not in range 200-599"),
				errAt("spec.http[0].directResponse.body", "set string or bytes, not both"),
			}},
		{name: "bytes not base64", yaml: vs("", "  - directResponse: {status: 200, body: {bytes: \"not base64!\"}}\n"),
			want: []want{errAt("spec.http[0].directResponse.body.bytes", "must be base64")}},
		{name: "body over 100KB", yaml: big(100<<10 + 1),
			want: []want{warnAt("spec.http[0].directResponse.body", "large direct_responses may impact control plane performance (102401 bytes")}},
		{name: "body over 1MB", yaml: big(1<<20 + 1),
			want: []want{errAt("spec.http[0].directResponse.body", "must be less than 1MB")}},
	})
}

func TestValidateVirtualServiceHeaders(t *testing.T) {
	runLintCases(t, "VirtualService", []lintCase{
		{name: "valid operations", yaml: rule(`    headers:
      request:
        set: {x-b3-sampled: "1", x-forwarded-client: "%DOWNSTREAM_REMOTE_ADDRESS%", x-env: "%ENVIRONMENT(POD_NAME)%"}
        add: {x-load: "100%%"}
        remove: [x-debug]
      response:
        set: {x-upstream: "%UPSTREAM_METADATA([\"istio\", \"canonical_service\"])% done"}
`)},
		{name: "pseudo and host headers", yaml: rule(`    headers:
      request:
        set: {":path": /x}
        remove: [host, ":authority"]
      response:
        add: {Host: a}
`),
			want: []want{
				errAt("spec.http[0].headers.request.set.:path", `invalid header ":path": header cannot have ":" prefix`),
				errAt("spec.http[0].headers.request.remove[0]", `invalid header "host": cannot set or remove the Host header`),
				errAt("spec.http[0].headers.request.remove[1]", `header cannot have ":" prefix`),
				errAt("spec.http[0].headers.response.add.Host", "cannot set or remove the Host header"),
			}},
		{name: "bad names and values", yaml: rule(`    headers:
      request:
        set: {"bad header": x, x-pct: "abc%123", x-tail: "%START_TIME%%", x-open: "%REQ(x-foo%"}
`),
			want: []want{
				errAt("spec.http[0].headers.request.set.x-open", "un-terminated % expression"),
				errAt("spec.http[0].headers.request.set.bad header", "not a valid HTTP header name"),
				errAt("spec.http[0].headers.request.set.x-pct", `header value configuration "abc%123" is invalid`),
				errAt("spec.http[0].headers.request.set.x-tail", "un-terminated % expression"),
			}},
		{name: "destination headers", yaml: vs("", "  - route: [{destination: {host: reviews}, headers: {response: {set: {\":status\": \"500\"}}}}]\n"),
			want: []want{errAt("spec.http[0].route[0].headers.response.set.:status", `header cannot have ":" prefix`)}},
	})
}

func TestValidateVirtualServiceTimeoutAndRetries(t *testing.T) {
	runLintCases(t, "VirtualService", []lintCase{
		{name: "valid timeout", yaml: rule("    timeout: 500ms\n")},
		{name: "zero timeout", yaml: rule("    timeout: 0s\n"),
			want: []want{errAt("spec.http[0].timeout", "must be at least 1ms and a whole number of milliseconds, not 0s")}},
		{name: "sub-millisecond timeout", yaml: rule("    timeout: 1500us\n"),
			want: []want{errAt("spec.http[0].timeout", "not 1.5ms")}},
		{name: "valid retries", yaml: rule("    timeout: 10s\n    retries: {attempts: 3, perTryTimeout: 2s, retryOn: \"5xx,gateway-error,503,reset,unavailable\", backoff: 50ms, retryIgnorePreviousHosts: false}\n")},
		{name: "disabled retries", yaml: rule("    retries: {attempts: 0}\n")},
		{name: "negative attempts", yaml: rule("    retries: {attempts: -1}\n"),
			want: []want{errAt("spec.http[0].retries.attempts", "attempts cannot be negative")}},
		{name: "zero attempts with policy", yaml: rule("    retries: {attempts: 0, perTryTimeout: 1s, retryOn: 5xx, retryRemoteLocalities: true}\n"),
			want: []want{errAt("spec.http[0].retries.attempts", "is 0, which disables retries, but perTryTimeout, retryOn, retryRemoteLocalities is set")}},
		{name: "retryOn with spaces", yaml: rule("    retries: {attempts: 2, retryOn: \"5xx, reset,999,,bogus\"}\n"),
			want: []want{
				errAt("spec.http[0].retries.retryOn", `" reset" is not a valid retryOn policy`),
				errAt("spec.http[0].retries.retryOn", `"999" is not a valid retryOn policy`),
				errAt("spec.http[0].retries.retryOn", `"" is not a valid retryOn policy`),
				errAt("spec.http[0].retries.retryOn", `"bogus" is not a valid retryOn policy`),
			}},
		{name: "per-try timeout not shorter", yaml: rule("    timeout: 2s\n    retries: {attempts: 2, perTryTimeout: 2s}\n"),
			want: []want{warnAt("spec.http[0].retries.perTryTimeout", "2s is not shorter than the route timeout 2s: Envoy ignores it")}},
		{name: "bad durations", yaml: rule("    retries: {attempts: 2, perTryTimeout: 500us, backoff: 0s}\n"),
			want: []want{
				errAt("spec.http[0].retries.perTryTimeout", "at least 1ms"),
				errAt("spec.http[0].retries.backoff", "at least 1ms"),
			}},
		{name: "backoff before 1.26", istio: "1.25", yaml: rule("    retries: {attempts: 2, backoff: 100ms, retryIgnorePreviousHosts: false}\n"),
			want: []want{
				warnAt("spec.http[0].retries.backoff", "is ignored by Istio 1.25: backoff is honoured since 1.26"),
				warnAt("spec.http[0].retries.retryIgnorePreviousHosts", "is ignored by Istio 1.25"),
			}},
		{name: "backoff from 1.26", istio: "1.26", yaml: rule("    retries: {attempts: 2, backoff: 100ms, retryIgnorePreviousHosts: false}\n")},
	})
}

func TestValidateVirtualServiceFault(t *testing.T) {
	runLintCases(t, "VirtualService", []lintCase{
		{name: "valid fault", yaml: rule("    fault: {delay: {fixedDelay: 7s, percentage: {value: 100}}, abort: {httpStatus: 555, percentage: {value: 0.5}}}\n")},
		{name: "valid grpc abort", yaml: rule("    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 0.0001}}}\n")},
		{name: "empty fault", yaml: rule("    fault: {}\n"),
			want: []want{errAt("spec.http[0].fault", "must have an abort and/or a delay")}},
		{name: "exponential delay", yaml: rule("    fault: {delay: {exponentialDelay: 1s, percentage: {value: 10}}}\n"),
			want: []want{errAt("spec.http[0].fault.delay.exponentialDelay", "exponentialDelay is not supported by Istio")}},
		{name: "delay without duration", yaml: rule("    fault: {delay: {percentage: {value: 10}}}\n"),
			want: []want{errAt("spec.http[0].fault.delay.fixedDelay", "is required")}},
		{name: "zero delay", yaml: rule("    fault: {delay: {fixedDelay: 0s, percentage: {value: 10}}}\n"),
			want: []want{errAt("spec.http[0].fault.delay.fixedDelay", "at least 1ms")}},
		{name: "deprecated percent", yaml: rule("    fault: {delay: {fixedDelay: 7s, percent: 100}}\n"),
			want: []want{warnAt("spec.http[0].fault.delay.percent", "is deprecated: use percentage: {value: 100}")}},
		{name: "percent out of range", yaml: rule("    fault: {delay: {fixedDelay: 7s, percent: 101}}\n"),
			want: []want{
				errAt("spec.http[0].fault.delay.percent", "percentage 101 is not in range 0..100"),
				warnAt("spec.http[0].fault.delay.percent", "is deprecated"),
			}},
		{name: "no percentage", yaml: rule("    fault: {delay: {fixedDelay: 7s}, abort: {httpStatus: 500}}\n"),
			want: []want{
				warnAt("spec.http[0].fault.delay.percentage", "no percentage: Istio injects this fault into 0 % of requests"),
				warnAt("spec.http[0].fault.abort.percentage", "no percentage: Istio injects this fault into 0 % of requests"),
			}},
		{name: "percentages out of range", yaml: rule("    fault: {delay: {fixedDelay: 1s, percentage: {value: 0.00001}}, abort: {httpStatus: 500, percentage: {value: 101}}}\n"),
			want: []want{
				errAt("spec.http[0].fault.delay.percentage.value", "percentage 1e-05 is neither 0 nor in range [0.0001, 100]"),
				errAt("spec.http[0].fault.abort.percentage.value", "percentage 101 is not in range 0..100"),
			}},
		{name: "bad abort statuses", yaml: rule("    fault: {abort: {httpStatus: 199, grpcStatus: \"14\", percentage: {value: 1}}}\n"),
			want: []want{
				errAt("spec.http[0].fault.abort", "set exactly one of httpStatus, grpcStatus or http2Error"),
				errAt("spec.http[0].fault.abort.httpStatus", "HTTP status 199 is not in range 200-599"),
				errAt("spec.http[0].fault.abort.grpcStatus", `gRPC status "14" is not supported`),
			}},
		{name: "http2 error", yaml: rule("    fault: {abort: {http2Error: REFUSED_STREAM, percentage: {value: 1}}}\n"),
			want: []want{errAt("spec.http[0].fault.abort.http2Error", "HTTP/2 abort fault injection is not supported by Istio")}},
		{name: "abort without error type", yaml: rule("    fault: {abort: {percentage: {value: 1}}}\n"),
			want: []want{warnAt("spec.http[0].fault.abort", "abort configured, but error type not set")}},
	})
}

func TestValidateVirtualServiceMirror(t *testing.T) {
	runLintCases(t, "VirtualService", []lintCase{
		{name: "valid mirror", yaml: rule("    mirror: {host: reviews, subset: v2}\n    mirrorPercentage: {value: 50}\n")},
		{name: "valid mirrors", yaml: rule("    mirrors: [{destination: {host: reviews, subset: v2}, percentage: {value: 10}}]\n")},
		{name: "mirror without host", yaml: rule("    mirror: {subset: v2}\n"),
			want: []want{errAt("spec.http[0].mirror.host", "is required")}},
		{name: "mirror percentage out of range", yaml: rule("    mirror: {host: reviews}\n    mirrorPercentage: {value: 150}\n"),
			want: []want{errAt("spec.http[0].mirrorPercentage.value", "percentage 150 is not in range 0..100")}},
		{name: "mirror_percent", yaml: rule("    mirror: {host: reviews}\n    mirror_percent: 100\n"),
			want: []want{warnAt("spec.http[0].mirrorPercent", "mirror_percent is deprecated: use mirrorPercentage: {value: 100}")}},
		{name: "mirrorPercent over 100", yaml: rule("    mirror: {host: reviews}\n    mirrorPercent: 150\n"),
			want: []want{
				errAt("spec.http[0].mirrorPercent", "mirror_percent must have a max value of 100 (it has 150)"),
				warnAt("spec.http[0].mirrorPercent", "mirrorPercent is deprecated"),
			}},
		{name: "both percentages", yaml: rule("    mirror: {host: reviews}\n    mirrorPercentage: {value: 5}\n    mirrorPercent: 50\n"),
			want: []want{warnAt("spec.http[0].mirrorPercent", "ignored here, since mirrorPercentage is set")}},
		{name: "percentage without mirror", yaml: rule("    mirrorPercentage: {value: 5}\n"),
			want: []want{warnAt("spec.http[0].mirrorPercentage", "is ignored: it only applies to mirror")}},
		{name: "mirrors out of range", yaml: rule("    mirrors: [{destination: {host: \"*\"}, percentage: {value: -1}}]\n"),
			want: []want{
				errAt("spec.http[0].mirrors[0].destination.host", "invalid destination host *"),
				errAt("spec.http[0].mirrors[0].percentage.value", "percentage -1 is not in range 0..100"),
			}},
	})
}

// TestValidateRetryOnStatusCodes pins the status-code rule: every code Go's
// http.StatusText knows is a valid retryOn token.
func TestValidateRetryOnStatusCodes(t *testing.T) {
	for _, code := range []int{100, 409, 418, 503, 511} {
		ps := lint("", rule(fmt.Sprintf("    retries: {attempts: 1, retryOn: \"%d\"}\n", code)))
		for _, p := range ps {
			t.Errorf("retryOn %d: %s", code, p)
		}
	}
}
