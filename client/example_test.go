package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/faultline/faultline/client"
)

// A CI job: store the experiment (created, or updated by name), run it on
// the shared server, wait for the verdict, keep the JUnit XML, and fail
// on a failed hypothesis.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := client.FromEnv() // FAULTLINE_SERVER, FAULTLINE_TOKEN
	if err != nil {
		log.Fatal(err)
	}
	src, err := os.ReadFile("experiments/ratings-delay.yaml")
	if err != nil {
		log.Fatal(err)
	}
	exp, outcome, err := c.Experiments.Apply(ctx, src)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("experiment %s %s (version %d)\n", exp.Name, outcome, exp.Version)
	run, err := c.Runs.Start(ctx, exp.ID, client.StartOptions{})
	if client.Code(err) == client.CodeLever {
		log.Fatal("the safety lever is engaged: ", err)
	} else if err != nil {
		log.Fatal(err)
	}
	if run, err = c.Runs.Wait(ctx, run.ID); err != nil {
		log.Fatal(err)
	}
	if junit, err := c.Runs.JUnit(ctx, run.ID); err == nil {
		_ = os.WriteFile("faultline-junit.xml", junit, 0o644)
	}
	if run.Report != nil { // a run that ended in error may have none
		for _, check := range run.Report.Hypothesis {
			fmt.Printf("%v %s (observed %g)\n", check.Pass, check.Check, check.Observed)
		}
	}
	if run.Verdict != client.VerdictPass {
		log.Fatalf("run %d: %s, verdict %s: %s", run.ID, run.Status, run.Verdict, run.Reason)
	}
}

// A Go test laying a fault over an environment for a while, as a test
// does with Toxiproxy, and taking it away at the end.
func ExampleOverlaysService_Add() {
	ctx := context.Background()
	c, err := client.New("http://127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	env, _, err := c.Environments.Apply(ctx, []byte(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  egress: 127.0.0.1:15001
  services:
  - {host: ratings, port: 9080, endpoints: [{address: 127.0.0.1:29080}]}
`))
	if err != nil {
		log.Fatal(err)
	}
	ov, err := c.Overlays.Add(ctx, env.ID, 30*time.Second, []byte(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: ratings}}]
`))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Overlays.Remove(ctx, env.ID, ov.ID)
	// … call the service under test through 127.0.0.1:15001 and check
	// that it degrades gracefully while ratings answers 503 …
}
