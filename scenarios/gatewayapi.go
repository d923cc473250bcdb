package scenarios

// The Kubernetes Gateway API resources Faultline reads
// (gateway.networking.k8s.io v1 and v1beta1, which share the schema):
// Gateway and HTTPRoute, field for field as the Gateway API's v1 types
// define them, decoded strictly like the Istio resources. They are not
// routed on their own: gatewayapi_translate.go turns them into the Istio
// Gateway and VirtualServices istiod generates from them
// (pilot/pkg/config/kube/gateway), which the proxy compiles.
//
// Fields typed *Unimplemented are known but not implemented; fields kept
// as plain values that Faultline ignores get a warning.

// gatewayAPIVersions are the gateway.networking.k8s.io versions accepted.
var gatewayAPIVersions = map[string]bool{
	"gateway.networking.k8s.io/v1":      true,
	"gateway.networking.k8s.io/v1beta1": true,
}

// RouteSemanticsAnnotation is the annotation istiod sets on the
// VirtualServices it generates from Gateway API routes; its value
// RouteSemanticsGateway tells the proxy to build their routes with gateway
// semantics (a destination whose cluster does not exist answers 500).
const RouteSemanticsAnnotation = "internal.istio.io/route-semantics"

// RouteSemanticsGateway is RouteSemanticsAnnotation's value on generated
// VirtualServices.
const RouteSemanticsGateway = "gateway"

// gatewayAPIGroup is the Gateway API's group, the default of a parentRef's.
const gatewayAPIGroup = "gateway.networking.k8s.io"

// KubeGateway is a Gateway API Gateway: listeners istiod turns into the
// servers of an Istio Gateway.
type KubeGateway struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   ObjectMeta      `json:"metadata"`
	Spec       KubeGatewaySpec `json:"spec"`
	Status     map[string]any  `json:"status,omitempty"`
}

// KubeGatewaySpec is the spec of a Gateway API Gateway.
type KubeGatewaySpec struct {
	GatewayClassName string         `json:"gatewayClassName"`
	Listeners        []KubeListener `json:"listeners"`
	// Addresses and Infrastructure place the Gateway's deployment and
	// Service in a cluster; Faultline's listener is on loopback.
	Addresses        []map[string]any `json:"addresses,omitempty"`
	Infrastructure   map[string]any   `json:"infrastructure,omitempty"`
	TLS              *Unimplemented   `json:"tls,omitempty"`
	AllowedListeners *Unimplemented   `json:"allowedListeners,omitempty"`
	DefaultScope     *Unimplemented   `json:"defaultScope,omitempty"`
}

// KubeListener is one listener of a Gateway API Gateway.
type KubeListener struct {
	Name          string         `json:"name"`
	Hostname      string         `json:"hostname,omitempty"`
	Port          uint32         `json:"port"`
	Protocol      string         `json:"protocol"`
	TLS           *ListenerTLS   `json:"tls,omitempty"`
	AllowedRoutes *AllowedRoutes `json:"allowedRoutes,omitempty"`
}

// ListenerTLS is the TLS of an HTTPS or TLS listener: Terminate with the
// certificates of certificateRefs, or Passthrough.
type ListenerTLS struct {
	Mode               string                  `json:"mode,omitempty"`
	CertificateRefs    []SecretObjectReference `json:"certificateRefs,omitempty"`
	Options            map[string]string       `json:"options,omitempty"`
	FrontendValidation *Unimplemented          `json:"frontendValidation,omitempty"`
}

// SecretObjectReference names a Secret holding a certificate and its key.
type SecretObjectReference struct {
	Group     *string `json:"group,omitempty"`
	Kind      *string `json:"kind,omitempty"`
	Name      string  `json:"name"`
	Namespace string  `json:"namespace,omitempty"`
}

// AllowedRoutes says which routes may attach to a listener.
type AllowedRoutes struct {
	Namespaces *RouteNamespaces `json:"namespaces,omitempty"`
	Kinds      []RouteGroupKind `json:"kinds,omitempty"`
}

// RouteNamespaces selects the namespaces of the routes a listener takes.
type RouteNamespaces struct {
	From     string         `json:"from,omitempty"`
	Selector *Unimplemented `json:"selector,omitempty"`
}

// RouteGroupKind names a kind of route.
type RouteGroupKind struct {
	Group *string `json:"group,omitempty"`
	Kind  string  `json:"kind"`
}

// KubeHTTPRoute is a Gateway API HTTPRoute.
type KubeHTTPRoute struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   ObjectMeta        `json:"metadata"`
	Spec       KubeHTTPRouteSpec `json:"spec"`
	Status     map[string]any    `json:"status,omitempty"`
}

// KubeHTTPRouteSpec is the spec of an HTTPRoute.
type KubeHTTPRouteSpec struct {
	ParentRefs         []ParentReference   `json:"parentRefs,omitempty"`
	Hostnames          []string            `json:"hostnames,omitempty"`
	Rules              []KubeHTTPRouteRule `json:"rules,omitempty"`
	UseDefaultGateways *Unimplemented      `json:"useDefaultGateways,omitempty"`
}

// ParentReference names what a route attaches to: a Gateway (or one of
// its listeners), or a Service for the mesh.
type ParentReference struct {
	Group       *string `json:"group,omitempty"`
	Kind        *string `json:"kind,omitempty"`
	Namespace   string  `json:"namespace,omitempty"`
	Name        string  `json:"name"`
	SectionName string  `json:"sectionName,omitempty"`
	Port        uint32  `json:"port,omitempty"`
}

// KubeHTTPRouteRule is one rule of an HTTPRoute: its matches are OR'ed.
type KubeHTTPRouteRule struct {
	Name               string               `json:"name,omitempty"`
	Matches            []KubeHTTPRouteMatch `json:"matches,omitempty"`
	Filters            []KubeHTTPFilter     `json:"filters,omitempty"`
	BackendRefs        []HTTPBackendRef     `json:"backendRefs,omitempty"`
	Timeouts           *HTTPRouteTimeouts   `json:"timeouts,omitempty"`
	Retry              *HTTPRouteRetry      `json:"retry,omitempty"`
	SessionPersistence *Unimplemented       `json:"sessionPersistence,omitempty"`
}

// KubeHTTPRouteMatch is one match of a rule: its fields are AND'ed.
type KubeHTTPRouteMatch struct {
	Path        *HTTPPathMatch        `json:"path,omitempty"`
	Headers     []HTTPHeaderMatch     `json:"headers,omitempty"`
	QueryParams []HTTPQueryParamMatch `json:"queryParams,omitempty"`
	Method      string                `json:"method,omitempty"`
}

// HTTPPathMatch matches the path: Exact, PathPrefix (by path element)
// or RegularExpression.
type HTTPPathMatch struct {
	Type  string  `json:"type,omitempty"`
	Value *string `json:"value,omitempty"`
}

// HTTPHeaderMatch matches a header: Exact or RegularExpression.
type HTTPHeaderMatch struct {
	Type  string `json:"type,omitempty"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// HTTPQueryParamMatch matches a query parameter: Exact or RegularExpression.
type HTTPQueryParamMatch struct {
	Type  string `json:"type,omitempty"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// KubeHTTPFilter is one filter of a rule or a backendRef.
type KubeHTTPFilter struct {
	Type                   string                     `json:"type"`
	RequestHeaderModifier  *HTTPHeaderFilter          `json:"requestHeaderModifier,omitempty"`
	ResponseHeaderModifier *HTTPHeaderFilter          `json:"responseHeaderModifier,omitempty"`
	RequestMirror          *HTTPRequestMirrorFilter   `json:"requestMirror,omitempty"`
	RequestRedirect        *HTTPRequestRedirectFilter `json:"requestRedirect,omitempty"`
	URLRewrite             *HTTPURLRewriteFilter      `json:"urlRewrite,omitempty"`
	CORS                   *Unimplemented             `json:"cors,omitempty"`
	ExternalAuth           *Unimplemented             `json:"externalAuth,omitempty"`
	ExtensionRef           *Unimplemented             `json:"extensionRef,omitempty"`
}

// HTTPHeaderFilter sets, adds and removes headers.
type HTTPHeaderFilter struct {
	Set    []HTTPHeader `json:"set,omitempty"`
	Add    []HTTPHeader `json:"add,omitempty"`
	Remove []string     `json:"remove,omitempty"`
}

// HTTPHeader is a header name and value.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// HTTPRequestMirrorFilter copies requests to a backend.
type HTTPRequestMirrorFilter struct {
	BackendRef BackendObjectReference `json:"backendRef"`
	Percent    *int32                 `json:"percent,omitempty"`
	Fraction   *Fraction              `json:"fraction,omitempty"`
}

// Fraction is numerator/denominator (100 by default).
type Fraction struct {
	Numerator   int32  `json:"numerator"`
	Denominator *int32 `json:"denominator,omitempty"`
}

// HTTPRequestRedirectFilter answers with a redirect.
type HTTPRequestRedirectFilter struct {
	Scheme     *string           `json:"scheme,omitempty"`
	Hostname   *string           `json:"hostname,omitempty"`
	Path       *HTTPPathModifier `json:"path,omitempty"`
	Port       *uint32           `json:"port,omitempty"`
	StatusCode *int32            `json:"statusCode,omitempty"`
}

// HTTPURLRewriteFilter rewrites the path and host before forwarding.
type HTTPURLRewriteFilter struct {
	Hostname *string           `json:"hostname,omitempty"`
	Path     *HTTPPathModifier `json:"path,omitempty"`
}

// HTTPPathModifier replaces the whole path or the matched prefix.
type HTTPPathModifier struct {
	Type               string  `json:"type"`
	ReplaceFullPath    *string `json:"replaceFullPath,omitempty"`
	ReplacePrefixMatch *string `json:"replacePrefixMatch,omitempty"`
}

// BackendObjectReference names a backend: a Service and its port.
type BackendObjectReference struct {
	Group     *string `json:"group,omitempty"`
	Kind      *string `json:"kind,omitempty"`
	Name      string  `json:"name"`
	Namespace string  `json:"namespace,omitempty"`
	Port      *uint32 `json:"port,omitempty"`
}

// HTTPBackendRef is a weighted backend of a rule (weight 1 by default).
type HTTPBackendRef struct {
	Group     *string          `json:"group,omitempty"`
	Kind      *string          `json:"kind,omitempty"`
	Name      string           `json:"name"`
	Namespace string           `json:"namespace,omitempty"`
	Port      *uint32          `json:"port,omitempty"`
	Weight    *int32           `json:"weight,omitempty"`
	Filters   []KubeHTTPFilter `json:"filters,omitempty"`
}

// HTTPRouteTimeouts are a rule's request and backend-request timeouts.
type HTTPRouteTimeouts struct {
	Request        *Duration `json:"request,omitempty"`
	BackendRequest *Duration `json:"backendRequest,omitempty"`
}

// HTTPRouteRetry retries a rule's requests: on connection errors, and on
// the listed status codes.
type HTTPRouteRetry struct {
	Codes    []int32   `json:"codes,omitempty"`
	Attempts *int32    `json:"attempts,omitempty"`
	Backoff  *Duration `json:"backoff,omitempty"`
}
