package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/faultline/faultline/server/report"
)

// progressBar draws a run's progress on a terminal.
type progressBar struct {
	bar *progressbar.ProgressBar
}

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{bar: progressbar.NewOptions(1000,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetDescription("starting"))}
}

func (p *progressBar) update(pr report.Progress) {
	line := fmt.Sprintf("%6d req %7.0f qps  p50 %6.1f ms  p99 %6.1f ms  errors %d", pr.Requests, pr.QPS, pr.P50Ms, pr.P99Ms, pr.Errors)
	if pr.Phase != "" {
		line = fmt.Sprintf("%-8s %s", pr.Phase, line)
	}
	p.bar.Describe(line)
	if f := pr.Fraction(); f >= 0 {
		_ = p.bar.Set(int(f * 1000))
	}
}

func (p *progressBar) finish() { _ = p.bar.Finish() }

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
