package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/server/runstatus"
)

// The served document lists the run statuses runstatus defines, and only
// there: openapi.json itself names the list.
func TestOpenAPIStatusEnumsComeFromRunstatus(t *testing.T) {
	if strings.Contains(string(openAPISource), `"interrupted"`) {
		t.Error("openapi.json lists run statuses itself; give the schema an x-enum instead")
	}
	body, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), "x-enum") {
		t.Error("an x-enum is left in the served document")
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, s := range runstatus.All() {
		all = append(all, string(s))
	}
	if got := doc.Components.Schemas["Run"].Properties["status"].Enum; !slices.Equal(got, all) {
		t.Errorf("Run.status enum = %v, want %v", got, all)
	}
	step := doc.Components.Schemas["GameDayStep"].Properties["status"].Enum
	if slices.Contains(step, "queued") || !slices.Contains(step, "skipped") || !slices.Contains(step, "succeeded") {
		t.Errorf("GameDayStep.status enum = %v", step)
	}
}

func TestFillEnumsRefusesAnUnknownList(t *testing.T) {
	var doc any = map[string]any{"status": map[string]any{"type": "string", "x-enum": "nope"}}
	if err := fillEnums(doc, statusEnums()); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("fillEnums = %v, want an error naming the list", err)
	}
}
