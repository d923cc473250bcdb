package scenarios

// grpcCodes are the gRPC status codes by the names Istio spells them in
// a fault's abort.grpcStatus, with their numbers.
var grpcCodes = map[string]int{
	"OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
	"NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
	"FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
	"INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}

// GRPCCode returns the number of the gRPC status code an abort names
// (upper case, as Istio spells it: UNAVAILABLE is 14), and false for a
// name gRPC does not define.
func GRPCCode(name string) (int, bool) {
	code, ok := grpcCodes[name]
	return code, ok
}
