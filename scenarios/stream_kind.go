package scenarios

// IsGameDay reports whether the stream holds a document of kind GameDay
// (as far as it reads: the documents before a syntax error count).
func IsGameDay(src []byte) bool {
	var ignored Problems
	for _, d := range documents(src, &ignored) {
		if kind, _, _ := headOf(d.node); kind == KindGameDay {
			return true
		}
	}
	return false
}
