package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/server/runstatus"
)

// openAPISource describes every route of this package (OpenAPI 3.0) as
// written. A status schema carries no enum of its own but "x-enum", the
// name of the list of runstatus it takes, which OpenAPI fills in: the run
// statuses are listed once, in runstatus.
//
//go:embed openapi.json
var openAPISource []byte

// skipped is the one game-day step status beyond the run statuses.
const skipped = "skipped"

// statusEnums are the lists an "x-enum" may name.
func statusEnums() map[string][]string {
	var run, started []string
	for _, s := range runstatus.All() {
		run = append(run, string(s))
		if s != runstatus.Queued { // game-day runs and steps start running
			started = append(started, string(s))
		}
	}
	return map[string][]string{
		"run-status":      run,
		"game-day-status": started,
		"step-status":     append(slices.Clone(started), skipped),
	}
}

// OpenAPI returns the OpenAPI document with its status enums filled in
// from runstatus.
func OpenAPI() ([]byte, error) {
	var doc any
	if err := json.Unmarshal(openAPISource, &doc); err != nil {
		return nil, fmt.Errorf("api: openapi.json: %w", err)
	}
	if err := fillEnums(doc, statusEnums()); err != nil {
		return nil, fmt.Errorf("api: openapi.json: %w", err)
	}
	out, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return nil, fmt.Errorf("api: openapi.json: %w", err)
	}
	return out, nil
}

// fillEnums replaces every "x-enum" in v, at any depth, by the "enum" it
// names.
func fillEnums(v any, enums map[string][]string) error {
	switch v := v.(type) {
	case map[string]any:
		if name, ok := v["x-enum"]; ok {
			list, known := enums[fmt.Sprint(name)]
			if !known {
				return fmt.Errorf("x-enum %q names no list", name)
			}
			delete(v, "x-enum")
			v["enum"] = list
		}
		for _, e := range v {
			if err := fillEnums(e, enums); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range v {
			if err := fillEnums(e, enums); err != nil {
				return err
			}
		}
	}
	return nil
}

// serveOpenAPI serves doc, the document OpenAPI built when the handler
// was made (or the error it met).
func serveOpenAPI(doc []byte, err error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err != nil {
			c.String(500, "%v", err)
			return
		}
		c.Data(200, "application/json", doc)
	}
}
