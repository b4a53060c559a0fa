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
	// c.Data would make a new []string for the header each time; net/http
	// copies header values when it writes them, and nothing modifies one
	// in place, so every response shares one.
	c.Writer.Header()["Content-Type"] = jsonContentType
	c.Status(status)
	c.Writer.Write(b)
	if cap(b) <= 64<<10 { // one large batch must not pin a large buffer
		*bp = b[:0]
		jsonBufs.Put(bp)
	}
}

var jsonContentType = []string{"application/json; charset=utf-8"}

var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
