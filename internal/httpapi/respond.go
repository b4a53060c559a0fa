package httpapi

import (
	"sync"

	"github.com/gin-gonic/gin"
)

// writeJSON answers with the JSON appendTo writes into a pooled buffer (a
// hot path's hand-written encoder; the rest use c.JSON).
func writeJSON(c *gin.Context, status int, appendTo func([]byte) []byte) {
	bp := getBuf()
	*bp = appendTo(*bp)
	// c.Data would make a new []string for the header each time; net/http
	// copies header values when it writes them, and nothing modifies one
	// in place, so every response shares one.
	c.Writer.Header()["Content-Type"] = jsonContentType
	c.Status(status)
	c.Writer.Write(*bp)
	putBuf(bp)
}

var jsonContentType = []string{"application/json; charset=utf-8"}

// bufs pools the byte buffers of request bodies (readBody) and of
// responses (writeJSON).
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// getBuf returns an empty pooled buffer; putBuf gives it back.
func getBuf() *[]byte { return bufs.Get().(*[]byte) }

func putBuf(bp *[]byte) {
	if cap(*bp) <= 64<<10 { // one large body or batch must not pin a large buffer
		*bp = (*bp)[:0]
		bufs.Put(bp)
	}
}
