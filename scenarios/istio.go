package scenarios

// The Istio networking resources, field for field as istio/api defines them
// under networking.istio.io/v1alpha3 (v1beta1 and v1 share the schema).
// Fields typed *Unimplemented are known to Istio but not implemented by
// Faultline: setting one is an error that names it.

// ObjectMeta is the part of Kubernetes metadata an Istio resource carries here.
type ObjectMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	Description       string            `json:"description,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	UID               string            `json:"uid,omitempty"`
	Generation        int64             `json:"generation,omitempty"`
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
}

// VirtualService is Istio's routing resource.
type VirtualService struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   ObjectMeta         `json:"metadata"`
	Spec       VirtualServiceSpec `json:"spec"`
	Status     map[string]any     `json:"status,omitempty"`
}

// VirtualServiceSpec is the spec of a VirtualService.
type VirtualServiceSpec struct {
	Hosts    []string    `json:"hosts,omitempty"`
	Gateways []string    `json:"gateways,omitempty"`
	HTTP     []HTTPRoute `json:"http,omitempty"`
	TLS      []TLSRoute  `json:"tls,omitempty"`
	TCP      []TCPRoute  `json:"tcp,omitempty"`
	ExportTo []string    `json:"exportTo,omitempty"`
}

// HTTPRoute is one rule of a VirtualService.
type HTTPRoute struct {
	Name             string                 `json:"name,omitempty"`
	Match            []HTTPMatchRequest     `json:"match,omitempty"`
	Route            []HTTPRouteDestination `json:"route,omitempty"`
	Redirect         *HTTPRedirect          `json:"redirect,omitempty"`
	DirectResponse   *HTTPDirectResponse    `json:"directResponse,omitempty"`
	Delegate         *Delegate              `json:"delegate,omitempty"`
	Rewrite          *HTTPRewrite           `json:"rewrite,omitempty"`
	Timeout          *Duration              `json:"timeout,omitempty"`
	Retries          *HTTPRetry             `json:"retries,omitempty"`
	Fault            *HTTPFaultInjection    `json:"fault,omitempty"`
	Mirror           *Destination           `json:"mirror,omitempty"`
	Mirrors          []HTTPMirrorPolicy     `json:"mirrors,omitempty"`
	MirrorPercentage *Percent               `json:"mirrorPercentage,omitempty"`
	// MirrorPercent is the deprecated integer form (also spelled mirror_percent).
	MirrorPercent *uint32     `json:"mirrorPercent,omitempty"`
	CorsPolicy    *CorsPolicy `json:"corsPolicy,omitempty"`
	Headers       *Headers    `json:"headers,omitempty"`
}

// CorsPolicy is a route's CORS policy, answered as Envoy's CORS filter
// answers it (proxy/cors.go): a preflight whose origin is allowed gets a
// 200 from the proxy; other requests from an allowed origin get
// access-control-allow-origin (and expose-headers, allow-credentials) on
// their response.
type CorsPolicy struct {
	// AllowOrigin is the deprecated list of exact origins; istiod reads it
	// only when allowOrigins is absent.
	AllowOrigin      []string      `json:"allowOrigin,omitempty"`
	AllowOrigins     []StringMatch `json:"allowOrigins,omitempty"`
	AllowMethods     []string      `json:"allowMethods,omitempty"`
	AllowHeaders     []string      `json:"allowHeaders,omitempty"`
	ExposeHeaders    []string      `json:"exposeHeaders,omitempty"`
	MaxAge           *Duration     `json:"maxAge,omitempty"`
	AllowCredentials *bool         `json:"allowCredentials,omitempty"`
	// UnmatchedPreflights is FORWARD (the default, UNSPECIFIED too): a
	// preflight from an origin no allowOrigins matches goes to the
	// upstream; IGNORE: the proxy answers it 200 without CORS headers.
	UnmatchedPreflights string `json:"unmatchedPreflights,omitempty"`
}

// TCPRoute routes TCP connections (Envoy's tcp_proxy): the first route
// whose match holds takes the connection.
type TCPRoute struct {
	Match []L4MatchAttributes `json:"match,omitempty"`
	Route []RouteDestination  `json:"route,omitempty"`
}

// TLSRoute routes unterminated TLS connections by the SNI of their
// ClientHello (a passthrough gateway server, or a TLS port on the mesh).
type TLSRoute struct {
	Match []TLSMatchAttributes `json:"match,omitempty"`
	Route []RouteDestination   `json:"route,omitempty"`
}

// L4MatchAttributes selects connections of a TCP route; its fields are
// AND'ed, the entries of a match list OR'ed.
type L4MatchAttributes struct {
	DestinationSubnets []string          `json:"destinationSubnets,omitempty"`
	Port               uint32            `json:"port,omitempty"`
	SourceLabels       map[string]string `json:"sourceLabels,omitempty"`
	Gateways           []string          `json:"gateways,omitempty"`
	SourceNamespace    string            `json:"sourceNamespace,omitempty"`
	// SourceSubnet is hidden from Istio's documentation.
	SourceSubnet *Unimplemented `json:"sourceSubnet,omitempty"`
}

// TLSMatchAttributes selects connections of a TLS route by their SNI.
type TLSMatchAttributes struct {
	SNIHosts           []string          `json:"sniHosts,omitempty"`
	DestinationSubnets []string          `json:"destinationSubnets,omitempty"`
	Port               uint32            `json:"port,omitempty"`
	SourceLabels       map[string]string `json:"sourceLabels,omitempty"`
	Gateways           []string          `json:"gateways,omitempty"`
	SourceNamespace    string            `json:"sourceNamespace,omitempty"`
}

// RouteDestination is a weighted destination of a TCP or TLS route.
type RouteDestination struct {
	Destination Destination `json:"destination"`
	Weight      int32       `json:"weight,omitempty"`
}

// StringMatch matches a string exactly, by prefix, or by an RE2 regex
// (full match). Pointers keep `exact: ""` apart from an absent matcher.
type StringMatch struct {
	Exact  *string `json:"exact,omitempty"`
	Prefix *string `json:"prefix,omitempty"`
	Regex  *string `json:"regex,omitempty"`
}

// HTTPMatchRequest is one match block: its fields are AND'ed.
type HTTPMatchRequest struct {
	Name            string                 `json:"name,omitempty"`
	URI             *StringMatch           `json:"uri,omitempty"`
	Scheme          *StringMatch           `json:"scheme,omitempty"`
	Method          *StringMatch           `json:"method,omitempty"`
	Authority       *StringMatch           `json:"authority,omitempty"`
	Headers         map[string]StringMatch `json:"headers,omitempty"`
	WithoutHeaders  map[string]StringMatch `json:"withoutHeaders,omitempty"`
	QueryParams     map[string]StringMatch `json:"queryParams,omitempty"`
	Port            uint32                 `json:"port,omitempty"`
	SourceLabels    map[string]string      `json:"sourceLabels,omitempty"`
	Gateways        []string               `json:"gateways,omitempty"`
	SourceNamespace string                 `json:"sourceNamespace,omitempty"`
	IgnoreURICase   bool                   `json:"ignoreUriCase,omitempty"`
	StatPrefix      string                 `json:"statPrefix,omitempty"`
}

// PortSelector selects a service port.
type PortSelector struct {
	Number uint32 `json:"number,omitempty"`
}

// Destination names a service, optionally a subset and a port.
type Destination struct {
	Host   string        `json:"host"`
	Subset string        `json:"subset,omitempty"`
	Port   *PortSelector `json:"port,omitempty"`
}

// HTTPRouteDestination is a weighted destination of a route.
type HTTPRouteDestination struct {
	Destination Destination `json:"destination"`
	Weight      int32       `json:"weight,omitempty"`
	Headers     *Headers    `json:"headers,omitempty"`
}

// Headers holds header operations on requests and responses.
type Headers struct {
	Request  *HeaderOperations `json:"request,omitempty"`
	Response *HeaderOperations `json:"response,omitempty"`
}

// HeaderOperations sets, appends and removes headers.
type HeaderOperations struct {
	Set    map[string]string `json:"set,omitempty"`
	Add    map[string]string `json:"add,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// HTTPRedirect answers with a redirect.
type HTTPRedirect struct {
	URI           string `json:"uri,omitempty"`
	Authority     string `json:"authority,omitempty"`
	Port          uint32 `json:"port,omitempty"`
	DerivePort    string `json:"derivePort,omitempty"`
	Scheme        string `json:"scheme,omitempty"`
	RedirectCode  uint32 `json:"redirectCode,omitempty"`
	PrefixRewrite string `json:"prefixRewrite,omitempty"`
}

// HTTPDirectResponse answers with a fixed status and body.
type HTTPDirectResponse struct {
	Status uint32    `json:"status"`
	Body   *HTTPBody `json:"body,omitempty"`
}

// HTTPBody is a direct response body, as text or base64 bytes.
type HTTPBody struct {
	String *string `json:"string,omitempty"`
	Bytes  *string `json:"bytes,omitempty"`
}

// HTTPRewrite rewrites the path and authority before forwarding.
type HTTPRewrite struct {
	URI             string        `json:"uri,omitempty"`
	Authority       string        `json:"authority,omitempty"`
	URIRegexRewrite *RegexRewrite `json:"uriRegexRewrite,omitempty"`
}

// RegexRewrite replaces every match of an RE2 regex.
type RegexRewrite struct {
	Match   string `json:"match"`
	Rewrite string `json:"rewrite"`
}

// HTTPRetry is a route's retry policy.
type HTTPRetry struct {
	Attempts                 int32     `json:"attempts"`
	PerTryTimeout            *Duration `json:"perTryTimeout,omitempty"`
	RetryOn                  string    `json:"retryOn,omitempty"`
	RetryRemoteLocalities    *bool     `json:"retryRemoteLocalities,omitempty"`
	RetryIgnorePreviousHosts *bool     `json:"retryIgnorePreviousHosts,omitempty"`
	Backoff                  *Duration `json:"backoff,omitempty"`
}

// Percent is a percentage in [0, 100].
type Percent struct {
	Value float64 `json:"value"`
}

// HTTPFaultInjection injects delays and aborts before the router.
type HTTPFaultInjection struct {
	Delay *FaultDelay `json:"delay,omitempty"`
	Abort *FaultAbort `json:"abort,omitempty"`
}

// FaultDelay holds requests for a fixed time.
type FaultDelay struct {
	FixedDelay       *Duration `json:"fixedDelay,omitempty"`
	ExponentialDelay *Duration `json:"exponentialDelay,omitempty"`
	Percentage       *Percent  `json:"percentage,omitempty"`
	// Percent is the deprecated integer percentage.
	Percent *int32 `json:"percent,omitempty"`
}

// FaultAbort answers instead of forwarding.
type FaultAbort struct {
	HTTPStatus *int32   `json:"httpStatus,omitempty"`
	GRPCStatus string   `json:"grpcStatus,omitempty"`
	HTTP2Error string   `json:"http2Error,omitempty"`
	Percentage *Percent `json:"percentage,omitempty"`
}

// HTTPMirrorPolicy is one entry of `mirrors`.
type HTTPMirrorPolicy struct {
	Destination Destination `json:"destination"`
	Percentage  *Percent    `json:"percentage,omitempty"`
}

// DestinationRule is Istio's per-destination policy resource.
type DestinationRule struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Metadata   ObjectMeta          `json:"metadata"`
	Spec       DestinationRuleSpec `json:"spec"`
	Status     map[string]any      `json:"status,omitempty"`
}

// DestinationRuleSpec is the spec of a DestinationRule.
type DestinationRuleSpec struct {
	Host          string         `json:"host"`
	TrafficPolicy *TrafficPolicy `json:"trafficPolicy,omitempty"`
	Subsets       []Subset       `json:"subsets,omitempty"`
	ExportTo      []string       `json:"exportTo,omitempty"`
	// WorkloadSelector limits the rule to the callers it selects; Faultline
	// has one proxy for every caller (the validator warns).
	WorkloadSelector *WorkloadSelector `json:"workloadSelector,omitempty"`
}

// WorkloadSelector selects workloads by their labels (istio.type.v1beta1).
type WorkloadSelector struct {
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// Subset is a named group of endpoints selected by labels.
type Subset struct {
	Name          string            `json:"name"`
	Labels        map[string]string `json:"labels,omitempty"`
	TrafficPolicy *TrafficPolicy    `json:"trafficPolicy,omitempty"`
}

// TrafficPolicy groups load balancing, connection pool, outlier detection and TLS.
type TrafficPolicy struct {
	LoadBalancer      *LoadBalancerSettings `json:"loadBalancer,omitempty"`
	ConnectionPool    *ConnectionPool       `json:"connectionPool,omitempty"`
	OutlierDetection  *OutlierDetection     `json:"outlierDetection,omitempty"`
	TLS               *ClientTLSSettings    `json:"tls,omitempty"`
	PortLevelSettings []PortTrafficPolicy   `json:"portLevelSettings,omitempty"`
	Tunnel            *Unimplemented        `json:"tunnel,omitempty"`
	ProxyProtocol     *Unimplemented        `json:"proxyProtocol,omitempty"`
	RetryBudget       *Unimplemented        `json:"retryBudget,omitempty"`
}

// PortTrafficPolicy is a traffic policy for one port.
type PortTrafficPolicy struct {
	Port             *PortSelector         `json:"port,omitempty"`
	LoadBalancer     *LoadBalancerSettings `json:"loadBalancer,omitempty"`
	ConnectionPool   *ConnectionPool       `json:"connectionPool,omitempty"`
	OutlierDetection *OutlierDetection     `json:"outlierDetection,omitempty"`
	TLS              *ClientTLSSettings    `json:"tls,omitempty"`
}

// LoadBalancerSettings picks how endpoints are chosen.
type LoadBalancerSettings struct {
	Simple             string            `json:"simple,omitempty"`
	ConsistentHash     *ConsistentHashLB `json:"consistentHash,omitempty"`
	BackendUtilization *Unimplemented    `json:"backendUtilization,omitempty"`
	// LocalityLbSetting and ZoneAwareLbSetting are validated as Istio
	// validates them and, when enabled, accepted with a warning: Faultline's
	// proxy has no locality of its own, so, as Envoy does for a proxy whose
	// locality is unknown, endpoints are picked across all localities by
	// the policy above.
	LocalityLbSetting  *LocalityLbSetting  `json:"localityLbSetting,omitempty"`
	ZoneAwareLbSetting *ZoneAwareLbSetting `json:"zoneAwareLbSetting,omitempty"`
	WarmupDurationSecs *Unimplemented      `json:"warmupDurationSecs,omitempty"`
	Warmup             *Unimplemented      `json:"warmup,omitempty"`
}

// LocalityLbSetting is locality-weighted load balancing or failover.
type LocalityLbSetting struct {
	Distribute       []LocalityDistribute `json:"distribute,omitempty"`
	Failover         []LocalityFailover   `json:"failover,omitempty"`
	FailoverPriority []string             `json:"failoverPriority,omitempty"`
	Enabled          *bool                `json:"enabled,omitempty"`
}

// LocalityDistribute spreads the traffic of callers in From over the
// localities of To by weight (percent, summing to 100).
type LocalityDistribute struct {
	From string            `json:"from,omitempty"`
	To   map[string]uint32 `json:"to,omitempty"`
}

// LocalityFailover names the region traffic from From fails over to.
type LocalityFailover struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// ZoneAwareLbSetting is Envoy's zone-aware routing.
type ZoneAwareLbSetting struct {
	Enabled          *bool              `json:"enabled,omitempty"`
	Failover         []LocalityFailover `json:"failover,omitempty"`
	FailoverPriority []string           `json:"failoverPriority,omitempty"`
	MinClusterSize   *uint32            `json:"minClusterSize,omitempty"`
}

// ConsistentHashLB hashes a request property onto the endpoints.
type ConsistentHashLB struct {
	HTTPHeaderName         string         `json:"httpHeaderName,omitempty"`
	HTTPCookie             *HTTPCookie    `json:"httpCookie,omitempty"`
	UseSourceIP            bool           `json:"useSourceIp,omitempty"`
	HTTPQueryParameterName string         `json:"httpQueryParameterName,omitempty"`
	RingHash               *RingHash      `json:"ringHash,omitempty"`
	Maglev                 *Maglev        `json:"maglev,omitempty"`
	MinimumRingSize        uint64         `json:"minimumRingSize,omitempty"`
	Attributes             *Unimplemented `json:"attributes,omitempty"`
}

// HTTPCookie names the cookie a consistent hash uses.
type HTTPCookie struct {
	Name string    `json:"name"`
	Path string    `json:"path,omitempty"`
	TTL  *Duration `json:"ttl,omitempty"`
	// Attributes are added to a Set-Cookie the proxy generates (after
	// Path, before HttpOnly, as Envoy's makeSetCookieValue writes them).
	Attributes []CookieAttribute `json:"attributes,omitempty"`
}

// CookieAttribute is one attribute of a generated cookie: "; name=value",
// or "; name" when value is empty.
type CookieAttribute struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// RingHash configures the ring-hash algorithm.
type RingHash struct {
	MinimumRingSize uint64 `json:"minimumRingSize,omitempty"`
}

// Maglev configures the Maglev algorithm.
type Maglev struct {
	TableSize uint64 `json:"tableSize,omitempty"`
}

// ConnectionPool holds the circuit-breaker limits.
type ConnectionPool struct {
	TCP  *TCPSettings  `json:"tcp,omitempty"`
	HTTP *HTTPSettings `json:"http,omitempty"`
}

// TCPSettings are the TCP-level pool limits.
type TCPSettings struct {
	MaxConnections int32     `json:"maxConnections,omitempty"`
	ConnectTimeout *Duration `json:"connectTimeout,omitempty"`
	// TCPKeepalive is validated and accepted with a warning: connections
	// to endpoints keep Go's keepalive (probes after 30 s idle, every 30 s).
	TCPKeepalive          *TCPKeepalive `json:"tcpKeepalive,omitempty"`
	MaxConnectionDuration *Duration     `json:"maxConnectionDuration,omitempty"`
	IdleTimeout           *Duration     `json:"idleTimeout,omitempty"`
}

// TCPKeepalive is SO_KEEPALIVE's probes, idle time and interval.
type TCPKeepalive struct {
	Probes   uint32    `json:"probes,omitempty"`
	Time     *Duration `json:"time,omitempty"`
	Interval *Duration `json:"interval,omitempty"`
}

// HTTPSettings are the HTTP-level pool limits.
type HTTPSettings struct {
	HTTP1MaxPendingRequests  int32          `json:"http1MaxPendingRequests,omitempty"`
	HTTP2MaxRequests         int32          `json:"http2MaxRequests,omitempty"`
	MaxRequestsPerConnection int32          `json:"maxRequestsPerConnection,omitempty"`
	MaxRetries               int32          `json:"maxRetries,omitempty"`
	IdleTimeout              *Duration      `json:"idleTimeout,omitempty"`
	H2UpgradePolicy          string         `json:"h2UpgradePolicy,omitempty"`
	UseClientProtocol        bool           `json:"useClientProtocol,omitempty"`
	MaxConcurrentStreams     int32          `json:"maxConcurrentStreams,omitempty"`
	HTTP2KeepAlive           *Unimplemented `json:"http2KeepAlive,omitempty"`
}

// OutlierDetection ejects failing endpoints.
type OutlierDetection struct {
	// ConsecutiveErrors is deprecated and ignored by Istio since 1.7.
	ConsecutiveErrors              *int32         `json:"consecutiveErrors,omitempty"`
	Consecutive5xxErrors           *uint32        `json:"consecutive5xxErrors,omitempty"`
	ConsecutiveGatewayErrors       *uint32        `json:"consecutiveGatewayErrors,omitempty"`
	SplitExternalLocalOriginErrors bool           `json:"splitExternalLocalOriginErrors,omitempty"`
	ConsecutiveLocalOriginFailures *uint32        `json:"consecutiveLocalOriginFailures,omitempty"`
	Interval                       *Duration      `json:"interval,omitempty"`
	BaseEjectionTime               *Duration      `json:"baseEjectionTime,omitempty"`
	MaxEjectionPercent             int32          `json:"maxEjectionPercent,omitempty"`
	MinHealthPercent               int32          `json:"minHealthPercent,omitempty"`
	OutlierDetectionHTTPErrorCodes []uint32       `json:"outlierDetectionHttpErrorCodes,omitempty"`
	FailurePercentageThreshold     *Unimplemented `json:"failurePercentageThreshold,omitempty"`
}

// ClientTLSSettings is the client-side TLS of a destination. Its
// clientCertificate, privateKey, caCertificates and caCrl are PEM files relative
// to the credentials directory; credentialName names a directory of it
// (docs/istio.md, Client TLS).
type ClientTLSSettings struct {
	Mode                 string         `json:"mode,omitempty"`
	ClientCertificate    string         `json:"clientCertificate,omitempty"`
	PrivateKey           string         `json:"privateKey,omitempty"`
	CACertificates       string         `json:"caCertificates,omitempty"`
	CredentialName       string         `json:"credentialName,omitempty"`
	SubjectAltNames      []string       `json:"subjectAltNames,omitempty"`
	SNI                  string         `json:"sni,omitempty"`
	InsecureSkipVerify   *bool          `json:"insecureSkipVerify,omitempty"`
	CACrl                string         `json:"caCrl,omitempty"`
	CACertCredentialName *Unimplemented `json:"caCertCredentialName,omitempty"`
}

// Gateway describes a load balancer at the edge of the mesh.
type Gateway struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   ObjectMeta     `json:"metadata"`
	Spec       GatewaySpec    `json:"spec"`
	Status     map[string]any `json:"status,omitempty"`
}

// GatewaySpec is the spec of a Gateway.
type GatewaySpec struct {
	Selector map[string]string `json:"selector,omitempty"`
	Servers  []Server          `json:"servers"`
}

// Server is one listener of a Gateway.
type Server struct {
	Port            Port           `json:"port"`
	Bind            string         `json:"bind,omitempty"`
	Hosts           []string       `json:"hosts"`
	TLS             *ServerTLS     `json:"tls,omitempty"`
	Name            string         `json:"name,omitempty"`
	DefaultEndpoint *Unimplemented `json:"defaultEndpoint,omitempty"`
}

// Port describes a gateway server port.
type Port struct {
	Number     uint32 `json:"number"`
	Protocol   string `json:"protocol"`
	Name       string `json:"name"`
	TargetPort uint32 `json:"targetPort,omitempty"`
}

// ServerTLS is a gateway server's TLS. Only httpsRedirect is meaningful to a
// plain-HTTP listener. Its serverCertificate, privateKey and caCertificates
// are PEM files relative to the credentials directory; credentialName names
// a directory of it (docs/istio.md, Gateways).
type ServerTLS struct {
	HTTPSRedirect         bool           `json:"httpsRedirect,omitempty"`
	Mode                  string         `json:"mode,omitempty"`
	ServerCertificate     string         `json:"serverCertificate,omitempty"`
	PrivateKey            string         `json:"privateKey,omitempty"`
	CACertificates        string         `json:"caCertificates,omitempty"`
	CredentialName        string         `json:"credentialName,omitempty"`
	CredentialNames       []string       `json:"credentialNames,omitempty"`
	SubjectAltNames       []string       `json:"subjectAltNames,omitempty"`
	MinProtocolVersion    string         `json:"minProtocolVersion,omitempty"`
	MaxProtocolVersion    string         `json:"maxProtocolVersion,omitempty"`
	CipherSuites          []string       `json:"cipherSuites,omitempty"`
	CACrl                 *Unimplemented `json:"caCrl,omitempty"`
	CACertCredentialName  *Unimplemented `json:"caCertCredentialName,omitempty"`
	TLSCertificates       *Unimplemented `json:"tlsCertificates,omitempty"`
	VerifyCertificateSpki *Unimplemented `json:"verifyCertificateSpki,omitempty"`
	VerifyCertificateHash *Unimplemented `json:"verifyCertificateHash,omitempty"`
	InsecureSkipVerify    *Unimplemented `json:"insecureSkipVerify,omitempty"`
	EcdhCurves            *Unimplemented `json:"ecdhCurves,omitempty"`
	AlpnProtocols         *Unimplemented `json:"alpnProtocols,omitempty"`
}

// ServiceEntry adds a host to the service registry.
type ServiceEntry struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Metadata   ObjectMeta       `json:"metadata"`
	Spec       ServiceEntrySpec `json:"spec"`
	Status     map[string]any   `json:"status,omitempty"`
}

// ServiceEntrySpec is the spec of a ServiceEntry.
type ServiceEntrySpec struct {
	Hosts      []string        `json:"hosts"`
	Addresses  []string        `json:"addresses,omitempty"`
	Ports      []ServicePort   `json:"ports,omitempty"`
	Location   string          `json:"location,omitempty"`
	Resolution string          `json:"resolution,omitempty"`
	Endpoints  []WorkloadEntry `json:"endpoints,omitempty"`
	// WorkloadSelector takes the workloads with these labels as the
	// entry's endpoints, instead of Endpoints; Faultline has no workloads
	// to select (the validator warns).
	WorkloadSelector *ServiceEntrySelector `json:"workloadSelector,omitempty"`
	ExportTo         []string              `json:"exportTo,omitempty"`
	SubjectAltNames  []string              `json:"subjectAltNames,omitempty"`
}

// ServicePort is a port of a ServiceEntry.
type ServicePort struct {
	Number     uint32 `json:"number"`
	Protocol   string `json:"protocol,omitempty"`
	Name       string `json:"name"`
	TargetPort uint32 `json:"targetPort,omitempty"`
}

// WorkloadEntry is an endpoint of a ServiceEntry.
type WorkloadEntry struct {
	Address        string            `json:"address,omitempty"`
	Ports          map[string]uint32 `json:"ports,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Network        string            `json:"network,omitempty"`
	Locality       string            `json:"locality,omitempty"`
	Weight         uint32            `json:"weight,omitempty"`
	ServiceAccount string            `json:"serviceAccount,omitempty"`
}

// ServiceEntrySelector selects the workloads of a ServiceEntry by their
// labels (networking v1alpha3 WorkloadSelector).
type ServiceEntrySelector struct {
	Labels map[string]string `json:"labels,omitempty"`
}
