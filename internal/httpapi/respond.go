package httpapi

import (
	"sync"

	"github.com/gin-gonic/gin"
)

// writeJSON answers with the JSON appendTo writes into a pooled buffer (a
// hot path's hand-written encoder; the rest use c.JSON).
func writeJSON(c *gin.Context, status int, appendTo func([]byte) []byte) {
	bp := jsonBufs.Get().(*[]byte)
	b := appendTo((*bp)[:0])
	c.Data(status, "application/json; charset=utf-8", b)
	if cap(b) <= 64<<10 { // one large batch must not pin a large buffer
		*bp = b[:0]
		jsonBufs.Put(bp)
	}
}

var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
