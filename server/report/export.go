package report

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"strconv"
)

// junitSuites is the JUnit XML shape CI systems read (the Ant/Surefire
// schema: testsuites > testsuite > testcase with failure or error).
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Tests   int          `xml:"tests,attr"`
	Fails   int          `xml:"failures,attr"`
	Errors  int          `xml:"errors,attr"`
	Time    string       `xml:"time,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string          `xml:"name,attr"`
	Tests     int             `xml:"tests,attr"`
	Fails     int             `xml:"failures,attr"`
	Errors    int             `xml:"errors,attr"`
	Skipped   int             `xml:"skipped,attr"`
	Time      string          `xml:"time,attr"`
	Timestamp string          `xml:"timestamp,attr"`
	Props     []junitProperty `xml:"properties>property,omitempty"`
	Cases     []junitCase     `xml:"testcase"`
	SystemOut string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders the report as JUnit XML: one test case per hypothesis
// check, or a single "run" case when there is no hypothesis. A run that
// did not finish is an error case.
func JUnit(r *Report) ([]byte, error) {
	class := "faultline." + r.Experiment
	seconds := strconv.FormatFloat(r.EndedAt.Sub(r.StartedAt).Seconds(), 'f', 3, 64)
	suite := junitSuite{
		Name: class, Time: seconds, Timestamp: r.StartedAt.Format("2006-01-02T15:04:05"),
		Props: []junitProperty{
			{"status", r.Status}, {"verdict", r.Verdict}, {"seed", strconv.FormatInt(r.Seed, 10)},
			{"requests", strconv.FormatInt(r.Requests, 10)}, {"istioVersion", r.IstioVersion},
		},
		SystemOut: fmt.Sprintf("%d requests, %.1f qps, codes %v, p50 %.3f ms, p99 %.3f ms", r.Requests, r.QPS, r.Codes, r.LatencyMs.P50, r.LatencyMs.P99),
	}
	switch {
	case r.Status != StatusSucceeded && r.Status != StatusFailed:
		suite.Cases = append(suite.Cases, junitCase{Name: "run", Classname: class, Time: seconds,
			Error: &junitProblem{Message: "run " + r.Status + ": " + r.Reason, Type: r.Status}})
		suite.Errors++
	case len(r.Hypothesis) == 0:
		suite.Cases = append(suite.Cases, junitCase{Name: "run", Classname: class, Time: seconds})
	default:
		for _, c := range r.Hypothesis {
			tc := junitCase{Name: c.Check, Classname: class, Time: "0"}
			if !c.Pass {
				tc.Failure = &junitProblem{Message: fmt.Sprintf("observed %g", c.Observed), Type: "hypothesis",
					Text: fmt.Sprintf("%s does not hold: observed %g", c.Check, c.Observed)}
				suite.Fails++
			}
			suite.Cases = append(suite.Cases, tc)
		}
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: "faultline", Tests: suite.Tests, Fails: suite.Fails, Errors: suite.Errors, Time: seconds, Suites: []junitSuite{suite}}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("report: junit: %w", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// HistogramCSV renders the latency histogram as CSV: bucket bounds in
// milliseconds, count, and the bucket's and the cumulative percentage.
func HistogramCSV(r *Report) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"start_ms", "end_ms", "count", "percent", "cumulative_percent"})
	var total, cum int64
	for _, bk := range r.Histogram {
		total += bk.Count
	}
	for _, bk := range r.Histogram {
		cum += bk.Count
		_ = w.Write([]string{
			strconv.FormatFloat(bk.StartMs, 'f', -1, 64), strconv.FormatFloat(bk.EndMs, 'f', -1, 64),
			strconv.FormatInt(bk.Count, 10),
			strconv.FormatFloat(100*ratio(bk.Count, total), 'f', 3, 64),
			strconv.FormatFloat(100*ratio(cum, total), 'f', 3, 64),
		})
	}
	w.Flush()
	return b.Bytes()
}
