package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
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

func logLevel(level *zap.AtomicLevel) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"level": level.Level().String()})
	}
}

// setLogLevel changes the process log level at run time: {"level": "debug"}.
func setLogLevel(level *zap.AtomicLevel, log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		m, err := readObject(c)
		if err != nil {
			writeError(c, err)
			return
		}
		name, err := str(m, "level", "level")
		if err != nil {
			writeError(c, err)
			return
		}
		l, err := zapcore.ParseLevel(name)
		if err != nil || l < zapcore.DebugLevel || l > zapcore.ErrorLevel {
			writeError(c, badRequest(fmt.Sprintf("level %q: want debug, info, warn or error", name)))
			return
		}
		old := level.Level()
		level.SetLevel(l)
		log.Warn("log level changed", zap.Stringer("from", old), zap.Stringer("to", l))
		c.JSON(http.StatusOK, gin.H{"level": l.String()})
	}
}
