package report

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"strconv"
	"time"

	"github.com/faultline/faultline/server/runstatus"
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
	Skipped   *junitProblem `xml:"skipped,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders the report as JUnit XML: one test case per hypothesis
// check, or a single "run" case when there is no hypothesis. A run that
// did not finish is an error case, and so is a check the run could not
// grade (CheckResult.NotGradable).
func JUnit(r *Report) ([]byte, error) {
	class := "faultline." + r.Experiment
	seconds := strconv.FormatFloat(r.EndedAt.Sub(r.StartedAt).Seconds(), 'f', 3, 64)
	suite := junitSuite{
		Name: class, Time: seconds, Timestamp: r.StartedAt.Format("2006-01-02T15:04:05"),
		Props: []junitProperty{
			{"status", string(r.Status)}, {"verdict", r.Verdict}, {"seed", strconv.FormatInt(r.Seed, 10)},
			{"requests", strconv.FormatInt(r.Requests, 10)}, {"istioVersion", r.IstioVersion},
		},
		SystemOut: fmt.Sprintf("%d requests, %.1f qps, codes %v, p50 %.3f ms, p99 %.3f ms", r.Requests, r.QPS, r.Codes, r.LatencyMs.P50, r.LatencyMs.P99),
	}
	switch {
	case r.Status != runstatus.Succeeded && r.Status != runstatus.Failed:
		suite.Cases = append(suite.Cases, junitCase{Name: "run", Classname: class, Time: seconds,
			Error: &junitProblem{Message: "run " + string(r.Status) + ": " + r.Reason, Type: string(r.Status)}})
		suite.Errors++
	case len(r.Hypothesis) == 0:
		suite.Cases = append(suite.Cases, junitCase{Name: "run", Classname: class, Time: seconds})
	default:
		for _, c := range r.Hypothesis {
			tc := junitCase{Name: c.Check, Classname: class, Time: "0"}
			switch {
			case c.NotGradable:
				// Neither held nor falsified: the run could not grade it.
				tc.Error = &junitProblem{Message: c.Note, Type: "not-gradable",
					Text: fmt.Sprintf("%s could not be graded (observed %g): %s", c.Check, c.Observed, c.Note)}
				suite.Errors++
			case !c.Pass:
				tc.Failure = &junitProblem{Message: fmt.Sprintf("observed %g", c.Observed), Type: "hypothesis",
					Text: fmt.Sprintf("%s does not hold: observed %g", c.Check, c.Observed)}
				suite.Fails++
			}
			suite.Cases = append(suite.Cases, tc)
		}
	}
	return encodeJUnit(suite)
}

// encodeJUnit wraps one suite in testsuites and renders it.
func encodeJUnit(suite junitSuite) ([]byte, error) {
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: "faultline", Tests: suite.Tests, Fails: suite.Fails, Errors: suite.Errors, Time: suite.Time, Suites: []junitSuite{suite}}
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

// JUnitCase is one test case of a suite JUnitSuite renders. At most one of
// Failure (a check did not hold), Error (it could not run) and Skipped is
// set, to the case's message; Text details a failure or an error.
type JUnitCase struct {
	Name                    string
	Seconds                 float64
	Failure, Error, Skipped string
	Text                    string
}

// JUnitSuite renders cases as one JUnit suite named name (also each case's
// classname), in the same shape as JUnit, with props as its properties in
// order. Other reports made of several runs (a game day) use it.
func JUnitSuite(name string, startedAt time.Time, seconds float64, props [][2]string, cases []JUnitCase) ([]byte, error) {
	secs := func(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }
	suite := junitSuite{Name: name, Time: secs(seconds), Timestamp: startedAt.Format("2006-01-02T15:04:05")}
	for _, p := range props {
		suite.Props = append(suite.Props, junitProperty{p[0], p[1]})
	}
	for _, c := range cases {
		tc := junitCase{Name: c.Name, Classname: name, Time: secs(c.Seconds)}
		switch {
		case c.Error != "":
			tc.Error = &junitProblem{Message: c.Error, Type: "error", Text: c.Text}
			suite.Errors++
		case c.Failure != "":
			tc.Failure = &junitProblem{Message: c.Failure, Type: "failure", Text: c.Text}
			suite.Fails++
		case c.Skipped != "":
			tc.Skipped = &junitProblem{Message: c.Skipped}
			suite.Skipped++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	return encodeJUnit(suite)
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
