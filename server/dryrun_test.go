package server_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/faultline/faultline/server"
)

// TestDryRunThroughAPI: POST /experiments/{id}/runs?dryRun=true answers
// 200 with the route table and the predictions, as openapi.json's DryRun
// schema describes them, and creates no run; a dryRun that is not a
// boolean is 400 naming the parameter.
func TestDryRunThroughAPI(t *testing.T) {
	c := serve(t, server.Config{})
	spec := openAPIDoc(t, c)
	var created experimentJSON
	c.json("POST", "/api/v1/experiments", "application/yaml", []byte(abortExperiment), 201, &created)
	path := fmt.Sprintf("/api/v1/experiments/%d/runs", created.ID)

	resp, body := c.do("POST", path+"?dryRun=true", "application/json", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("dry run: status %d: %s", resp.StatusCode, body)
	}
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	schema := spec.Components.Schemas["DryRun"].Value
	if err := schema.VisitJSON(raw); err != nil {
		t.Errorf("the dry run does not match openapi.json's DryRun: %v", err)
	}
	var dry struct {
		DryRun  bool `json:"dryRun"`
		Targets []struct {
			Status string `json:"status"`
		} `json:"targets"`
		Routes []struct {
			Source string `json:"source"`
			Hit    struct {
				VirtualService string `json:"virtualService"`
				Rule           int    `json:"rule"`
			} `json:"hit"`
		} `json:"routes"`
		Predictions []struct {
			Metric    string   `json:"metric"`
			Predicted float64  `json:"predicted"`
			Observed  *float64 `json:"observed"`
		} `json:"predictions"`
	}
	if err := json.Unmarshal(body, &dry); err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || len(dry.Targets) != 1 || dry.Targets[0].Status != "demo, started by the run" {
		t.Errorf("dryRun %v, targets %+v: want the httpbin demo, started by the run", dry.DryRun, dry.Targets)
	}
	if len(dry.Routes) < 2 || dry.Routes[0].Source != "load" || dry.Routes[0].Hit.VirtualService != "httpbin" || dry.Routes[0].Hit.Rule != 0 {
		t.Errorf("routes %+v: want the load's request on httpbin/0, then the rule's sample", dry.Routes)
	}
	found := false
	for _, p := range dry.Predictions {
		if p.Metric == "error_ratio" {
			found = p.Predicted == 1 && p.Observed == nil
		}
	}
	if !found {
		t.Errorf("predictions %+v: want error_ratio 1 (abort 100 %%), unobserved", dry.Predictions)
	}

	var bad errorJSON
	c.json("POST", path+"?dryRun=maybe", "application/json", nil, 400, &bad)
	if bad.Error.Field != "dryRun" {
		t.Errorf("dryRun=maybe: error %+v, want field dryRun", bad.Error)
	}

	var runs struct {
		Total int64 `json:"total"`
	}
	c.json("GET", "/api/v1/runs", "", nil, 200, &runs)
	if runs.Total != 0 {
		t.Errorf("%d runs after dry runs, want none", runs.Total)
	}
}
