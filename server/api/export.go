package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/scenarios"
	"github.com/faultline/faultline/server/export"
)

// exportExperiment answers GET /experiments/{id}/export: the stored
// experiment as a real mesh takes it, the YAML stream `faultline export`
// writes (?namespace=, ?domain= as its flags). The experiment is read
// alone, as `faultline export` reads its file: an environment it names
// is neither needed nor exported.
func (h *handlers) exportExperiment(c *gin.Context) {
	_, e, err := byID(c, h.cfg.Experiments.GetExperiment)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	doc, err := scenarios.Parse([]byte(e.Source))
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	out, err := export.Stream(doc, export.Options{Namespace: c.Query("namespace"), Domain: c.Query("domain")})
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.Data(http.StatusOK, "application/yaml", out)
}
