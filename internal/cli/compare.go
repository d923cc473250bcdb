package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/server/report"
	"github.com/faultline/faultline/server/store"
)

func compareCommand() *cobra.Command {
	var db string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "compare A B",
		Short: "Set two runs side by side, with deltas and significance",
		Long: "Compare run B against run A. Each is a run id in the database (--db) or a report file written by\n" +
			"`faultline run --json`. Prints code distributions, the error ratio with a two-proportion z-test,\n" +
			"latency percentiles with a Kolmogorov-Smirnov test on the histograms, and the proxy's counters.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exit(compare(cmd.Context(), args[0], args[1], db, asJSON, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVar(&db, "db", envOr("FAULTLINE_DB", "faultline.db"), "database holding the runs: SQLite file or postgres:// URL")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the comparison as JSON")
	return cmd
}

// compare prints run b set against run a. Each of a and b is a report
// JSON file (from `faultline run --json`) or a run id in the database at
// dbPath. It returns the exit code.
func compare(ctx context.Context, a, b, dbPath string, asJSON bool, stdout, stderr io.Writer) int {
	ra, err := loadReport(ctx, a, dbPath)
	if err != nil {
		fmt.Fprintln(stderr, "faultline compare:", err)
		return ExitInvalid
	}
	rb, err := loadReport(ctx, b, dbPath)
	if err != nil {
		fmt.Fprintln(stderr, "faultline compare:", err)
		return ExitInvalid
	}
	cmp := report.Compare(ra, rb)
	if asJSON {
		err = writeJSON(stdout, cmp)
	} else {
		err = report.WriteComparison(stdout, cmp)
	}
	if err != nil {
		fmt.Fprintln(stderr, "faultline compare:", err)
		return ExitRunError
	}
	return ExitPass
}

// loadReport reads a report JSON file, or the report of run id ref.
func loadReport(ctx context.Context, ref, dbPath string) (*report.Report, error) {
	var body []byte
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && !fileExists(ref) {
		db, err := store.Open(ctx, dbPath)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", dbPath, err)
		}
		defer db.Close()
		run, err := db.GetRun(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", id, err)
		}
		if len(run.Report) == 0 {
			return nil, fmt.Errorf("run %d has no report (status %s)", id, run.Status)
		}
		body = run.Report
	} else if body, err = os.ReadFile(ref); err != nil {
		return nil, err
	}
	var r report.Report
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s is not a Faultline report: %w", ref, err)
	}
	return &r, nil
}
