package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/server/report"
)

// runReport loads the report of the run named by the path parameter; a run
// without one (queued, running, or ended in error) is a 404 saying so.
func (h *handlers) runReport(c *gin.Context, param string) (*report.Report, error) {
	id, err := idParam(c, param)
	if err != nil {
		return nil, err
	}
	run, err := h.cfg.RunStore.GetRun(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	if len(run.Report) == 0 {
		return nil, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("run %d has no report (status %s)", id, run.Status), Field: param}
	}
	var r report.Report
	if err := json.Unmarshal(run.Report, &r); err != nil {
		return nil, fmt.Errorf("api: decode report of run %d: %w", id, err)
	}
	return &r, nil
}

func (h *handlers) rerun(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	run, err := h.cfg.Runs.Rerun(c.Request.Context(), id)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.Header("Location", fmt.Sprintf("/api/v1/runs/%d", run.ID))
	c.JSON(http.StatusAccepted, toRunJSON(run, false))
}

func (h *handlers) compareRuns(c *gin.Context) {
	a, err := h.runReport(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	b, err := h.runReport(c, "other")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, report.Compare(a, b))
}

func (h *handlers) exportFortio(c *gin.Context) {
	r, err := h.runReport(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="run-%s-fortio.json"`, c.Param("id")))
	c.Data(http.StatusOK, "application/json", r.Fortio)
}

func (h *handlers) exportJUnit(c *gin.Context) {
	r, err := h.runReport(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	body, err := report.JUnit(r)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="run-%s-junit.xml"`, c.Param("id")))
	c.Data(http.StatusOK, "application/xml", body)
}

func (h *handlers) exportCSV(c *gin.Context) {
	r, err := h.runReport(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="run-%s-histogram.csv"`, c.Param("id")))
	c.Data(http.StatusOK, "text/csv", report.HistogramCSV(r))
}

// liveProxy shows a running run's proxy: its listeners and counters now.
func (h *handlers) liveProxy(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	listeners, stats, ok := h.cfg.Runs.LiveProxy(id)
	if !ok {
		if _, err := h.cfg.RunStore.GetRun(c.Request.Context(), id); err != nil {
			writeError(c, h.log, err)
			return
		}
		writeError(c, h.log, &Error{Status: http.StatusConflict, Message: fmt.Sprintf("run %d has no proxy running (it is not running)", id), Field: "id"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"runId": id, "listeners": listeners, "stats": stats})
}
