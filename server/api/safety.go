package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/server/store"
)

// leverJSON is the safety lever as the API shows it.
type leverJSON struct {
	Engaged bool       `json:"engaged"`
	Reason  string     `json:"reason,omitempty"`
	Since   *time.Time `json:"since,omitempty"`
	By      string     `json:"by,omitempty"`
}

// moveLeverJSON is the body of POST /safety/lever.
type moveLeverJSON struct {
	Engaged *bool  `json:"engaged"`
	Reason  string `json:"reason"`
	// By names who moves the lever on a server without tokens; with
	// tokens, the token's name does and By is ignored.
	By string `json:"by"`
}

func toLeverJSON(s store.LeverState) leverJSON {
	out := leverJSON{Engaged: s.Engaged, Reason: s.Reason, By: s.By}
	if !s.Since.IsZero() {
		since := s.Since
		out.Since = &since
	}
	return out
}

func (h *handlers) getLever(c *gin.Context) {
	c.JSON(http.StatusOK, toLeverJSON(h.cfg.Runs.Lever()))
}

// moveLever engages the lever (halting every run and refusing new ones)
// or releases it.
func (h *handlers) moveLever(c *gin.Context) {
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	var body moveLeverJSON
	if err := json.Unmarshal(raw, &body); err != nil {
		writeError(c, h.log, &Error{Status: http.StatusBadRequest, Message: `body must be JSON like {"engaged": true, "reason": "…"}: ` + err.Error()})
		return
	}
	if body.Engaged == nil {
		writeError(c, h.log, &Error{Status: http.StatusBadRequest, Message: "engaged is required: true engages the lever, false releases it", Field: "engaged"})
		return
	}
	reason, by := strings.TrimSpace(body.Reason), strings.TrimSpace(body.By)
	if len(h.cfg.Tokens) > 0 {
		by = principalOf(c).name
	}
	var state store.LeverState
	if *body.Engaged {
		if reason == "" {
			writeError(c, h.log, &Error{Status: http.StatusBadRequest, Message: "reason is required when engaging the safety lever", Field: "reason"})
			return
		}
		auditDetail(c, "engage: "+reason)
		state, err = h.cfg.Runs.Engage(c.Request.Context(), reason, by)
	} else {
		auditDetail(c, strings.TrimSuffix("release: "+reason, ": "))
		state, err = h.cfg.Runs.Release(c.Request.Context(), reason, by)
	}
	if err != nil {
		writeError(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, toLeverJSON(state))
}
