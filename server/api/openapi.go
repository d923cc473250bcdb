package api

import (
	_ "embed"

	"github.com/gin-gonic/gin"
)

// openAPIDocument describes every route of this package (OpenAPI 3.0).
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI document.
func OpenAPI() []byte { return openAPIDocument }

func serveOpenAPI(c *gin.Context) {
	c.Data(200, "application/json", openAPIDocument)
}
