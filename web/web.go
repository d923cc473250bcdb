// Package web holds Faultline's dashboard: plain HTML, CSS and JavaScript,
// embedded in the binary and served by `faultline serve` under /ui/.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:static
var static embed.FS

// FS returns the dashboard's files, rooted at its index.html.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
