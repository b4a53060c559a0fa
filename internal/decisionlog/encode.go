package decisionlog

import (
	"encoding/json"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"

	"go.uber.org/zap/zapcore"

	"github.com/pdp-sidecar/pdp/internal/jsonwrite"
)

// The input is encoded by hand rather than with encoding/json: the log
// walks the caller's maps once, read-only, writing "***" where a mask path
// matches, so it never copies or modifies them, and it costs a fraction of
// reflection (the decoded JSON holds only a handful of types). Keys are
// sorted, as encoding/json sorts them.

// reflectedEncoder is the zap JSON encoder's ReflectedEncoder: values of
// the types below are encoded by appendJSON, anything else by encoding/json.
type reflectedEncoder struct{ w io.Writer }

func newReflectedEncoder(w io.Writer) zapcore.ReflectedEncoder { return &reflectedEncoder{w} }

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (r *reflectedEncoder) Encode(v any) error {
	p := scratchPool.Get().(*[]byte)
	b := (*p)[:0]
	switch x := v.(type) {
	case *inputOf:
		b = x.appendTo(b)
	default:
		var err error
		if b, err = appendMarshal(b, v); err != nil {
			return err
		}
	}
	_, err := r.w.Write(b)
	if cap(b) <= keepBuffer {
		*p = b
		scratchPool.Put(p)
	}
	return err
}

// inputOf encodes an entry's input: the masked properties and context of
// its request, or its raw Input.
type inputOf entryFields

func (f *inputOf) appendTo(b []byte) []byte {
	e, t := f.e, f.l.mask
	if e.Input != nil {
		return appendJSON(b, e.Input, t)
	}
	r := &e.Request
	b = append(b, '{')
	first := true
	part := func(key string, v any) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonwrite.String(b, key)
		b = append(b, ':')
		kid := t.kid(key)
		if kid != nil && kid.leaf {
			b = jsonwrite.String(b, Masked)
			return
		}
		if key == "context" {
			b = appendJSON(b, v, kid)
			return
		}
		b = append(b, `{"properties":`...)
		b = appendJSON(b, v, kid.kid("properties"))
		b = append(b, '}')
	}
	if len(r.Subject.Properties) > 0 {
		part("subject", r.Subject.Properties)
	}
	if len(r.ActionProperties) > 0 {
		part("action", r.ActionProperties)
	}
	if len(r.Resource.Properties) > 0 {
		part("resource", r.Resource.Properties)
	}
	if len(r.Context) > 0 {
		part("context", r.Context)
	}
	return append(b, '}')
}

// hasInput says whether inputOf would write anything beyond {}.
func (e *Entry) hasInput() bool {
	r := &e.Request
	return e.Input != nil || len(r.Subject.Properties) > 0 || len(r.ActionProperties) > 0 ||
		len(r.Resource.Properties) > 0 || len(r.Context) > 0
}

// appendJSON appends v as JSON, with the values at t's masked paths
// replaced by "***". t may be nil (nothing masked).
func appendJSON(b []byte, v any, t *maskTree) []byte {
	if t != nil && t.leaf {
		return jsonwrite.String(b, Masked)
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return jsonwrite.String(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case json.Number:
		if x == "" || !json.Valid([]byte(x)) {
			return jsonwrite.String(b, string(x))
		}
		return append(b, x...)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return jsonwrite.String(b, strconv.FormatFloat(x, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case map[string]any:
		return appendObject(b, x, t)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e, t) // arrays are transparent to mask paths
		}
		return append(b, ']')
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = v
		}
		return appendObject(b, m, t)
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, s, t)
		}
		return append(b, ']')
	}
	b, err := appendMarshal(b, v)
	if err != nil {
		return jsonwrite.String(b, "!"+err.Error())
	}
	return b
}

func appendObject(b []byte, m map[string]any, t *maskTree) []byte {
	var stack [32]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonwrite.String(b, k)
		b = append(b, ':')
		b = appendJSON(b, m[k], t.kid(k))
	}
	return append(b, '}')
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}
