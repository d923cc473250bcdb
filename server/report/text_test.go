package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The text report of real runs (`faultline run --json` of the shipped
// examples, kept in testdata): fortio's lines, then Faultline's. A report
// without fortio's result (a run abandoned at its cap) prints the fortio
// lines it holds itself.
func TestTextReportGolden(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // fortio prints the procs of the process that ran the load
	for _, tc := range []struct {
		name, report string
		noFortio     bool
	}{
		{name: "httpbin-delay", report: "httpbin-delay"},
		{name: "httpbin-circuit-breaker", report: "httpbin-circuit-breaker"},
		{name: "httpbin-delay-without-fortio", report: "httpbin-delay", noFortio: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.report+".report.json"))
			if err != nil {
				t.Fatal(err)
			}
			var r Report
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			if tc.noFortio {
				r.Fortio = nil
			}
			var got bytes.Buffer
			if err := WriteText(&got, &r); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".txt.golden")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("text report differs from %s (run with -update to accept):\n%s", golden, got.String())
			}
		})
	}
}
