package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

func (h *handlers) health(c *gin.Context) {
	if h.engine.Snapshot() == nil {
		writeError(c, &apiError{http.StatusServiceUnavailable, codeNotReady, "no policy snapshot loaded yet"})
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

func (h *handlers) status(c *gin.Context) {
	s := h.engine.Snapshot()
	out := gin.H{
		"started_at":     h.started.UTC().Format(time.RFC3339Nano),
		"uptime_seconds": time.Since(h.started).Seconds(),
		"ready":          s != nil,
	}
	if s != nil {
		out["revision"] = s.Revision
		out["loaded_at"] = s.LoadedAt.Format(time.RFC3339Nano)
		out["policies"] = s.PolicyFiles
		out["policy_tests"] = s.TestFiles
		out["data"] = s.DataFiles
		out["counts"] = s.Stats
	}
	if h.reloadStatus != nil {
		rs := h.reloadStatus()
		out["last_reload"] = rs.LastReload
		out["reloads_ok"] = rs.ReloadsOK
		out["reloads_failed"] = rs.ReloadsFailed
	}
	if h.extraStatus != nil {
		for k, v := range h.extraStatus() {
			out[k] = v
		}
	}
	c.JSON(http.StatusOK, out)
}
