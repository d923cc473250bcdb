package scenarios_test

import "testing"

// delegateVS is a delegate VirtualService d (no hosts) with the given spec
// lines, after "---".
func delegateVS(spec string) string {
	return "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: d}\nspec:\n" + spec
}

// Delegate VirtualServices are validated as Istio validates them, and
// what istiod would drop while merging them is warned about at the root.
func TestValidateDelegates(t *testing.T) {
	root := vs("", "  - match: [{uri: {prefix: /api}}]\n    delegate: {name: d}\n"+"  - route: [{destination: {host: reviews, subset: v1}}]\n")
	narrowing := delegateVS("  http:\n  - match: [{uri: {prefix: /api/v2}}]\n    route: [{destination: {host: reviews, subset: v2}}]\n  - route: [{destination: {host: reviews, subset: v1}}]\n")
	runLintCases(t, "VirtualService", []lintCase{
		{name: "a root and a delegate that narrows its match", yaml: root + narrowing},
		{name: "a delegate route whose match does not narrow the root's is dropped, as istiod drops it",
			yaml: root + delegateVS("  http:\n  - match: [{uri: {prefix: /other}}]\n    route: [{destination: {host: reviews, subset: v2}}]\n"),
			want: []want{warnAt("spec.http[0].delegate", "the matches of route 0 of delegate default/d conflict with this route's")}},
		{name: "a missing delegate makes istiod ignore the root route", yaml: root,
			want: []want{warnAt("spec.http[0].delegate", "delegate VirtualService default/d is not in this experiment")}},
		{name: "a delegate not exported to the root's namespace",
			yaml: root + delegateVS("  exportTo: [other]\n  http:\n  - route: [{destination: {host: reviews, subset: v2}}]\n"),
			want: []want{warnAt("spec.http[0].delegate", "is not exported to namespace default")}},
		{name: "a root route cannot also route", yaml: vs("", "  - delegate: {name: d}\n    route: [{destination: {host: reviews, subset: v1}}]\n") + narrowing,
			want: []want{errAt("spec.http[0].delegate", "an HTTP route cannot contain both route and delegate")}},
	})
	runLintCases(t, "VirtualService", []lintCase{
		{name: "a delegate binds to no gateway, has no tcp or tls routes and does not delegate again", doc: "d",
			yaml: delegateVS("  gateways: [mesh]\n  http:\n  - delegate: {name: e}\n  tcp:\n  - route: [{destination: {host: reviews}}]\n"),
			want: []want{
				errAt("spec.gateways", "delegate virtual service must have no gateways specified"),
				errAt("spec.tcp", "delegate virtual service must have no tcp route specified"),
				errAt("spec.http[0].delegate", "delegate HTTP route cannot contain delegate"),
			}},
	})
}
