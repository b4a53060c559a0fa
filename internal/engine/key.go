package engine

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"sync"
)

// keyBufs recycles the buffers cache keys are built in.
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// keyBuf borrows an empty buffer for a cache key; give it back with
// releaseKeyBuf once the key is no longer used.
func keyBuf() *[]byte {
	buf := keyBufs.Get().(*[]byte)
	*buf = (*buf)[:0]
	return buf
}

// releaseKeyBuf returns buf to the pool, keeping key's storage when the
// key grew it, unless it grew past maxCachedKey (a huge request must not
// leave a huge buffer behind).
func releaseKeyBuf(buf *[]byte, key []byte) {
	if cap(key) <= maxCachedKey {
		*buf = key[:0]
	}
	keyBufs.Put(buf)
}

// appendKey appends the decision cache key of r to dst: an unambiguous
// encoding of the complete input (every field, every property, map keys
// sorted), so two requests share a key only when the policy sees the same
// input. ok is false when r holds a value it cannot encode (then the
// decision is not cached).
func appendKey(dst []byte, r *Request) (_ []byte, ok bool) {
	dst = appendStr(dst, r.Subject.Type)
	dst = appendStr(dst, r.Subject.ID)
	if dst, ok = appendProperties(dst, r.Subject.Properties); !ok {
		return dst, false
	}
	dst = appendStr(dst, r.Action)
	if dst, ok = appendProperties(dst, r.ActionProperties); !ok {
		return dst, false
	}
	dst = appendStr(dst, r.Resource.Type)
	dst = appendStr(dst, r.Resource.ID)
	if dst, ok = appendProperties(dst, r.Resource.Properties); !ok {
		return dst, false
	}
	// A nil context is an empty object in the input (input.go).
	return appendValue(dst, r.Context, 0)
}

// appendProperties encodes an entity's properties: nil means the input has
// no "properties" member at all, which differs from an empty object.
func appendProperties(dst []byte, m map[string]any) ([]byte, bool) {
	if m == nil {
		return append(dst, 'x'), true
	}
	return appendValue(dst, m, 0)
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// maxKeyDepth bounds the nesting appendKey follows; deeper inputs are not
// cached (the request decoder already refuses far shallower ones).
const maxKeyDepth = 64

// appendValue encodes a JSON-like value with a tag byte per kind. It gives
// up (ok false) as soon as the key outgrows maxCachedKey: such inputs are
// not cached, so encoding the rest would be wasted.
func appendValue(dst []byte, v any, depth int) ([]byte, bool) {
	if depth > maxKeyDepth || len(dst) > maxCachedKey {
		return dst, false
	}
	switch v := v.(type) {
	case nil:
		return append(dst, 'z'), true
	case bool:
		if v {
			return append(dst, 't'), true
		}
		return append(dst, 'f'), true
	case string:
		return appendStr(append(dst, 's'), v), true
	case json.Number:
		return appendStr(append(dst, 'n'), string(v)), true
	case float64:
		return binary.BigEndian.AppendUint64(append(dst, 'd'), math.Float64bits(v)), true
	case int:
		return binary.AppendVarint(append(dst, 'i'), int64(v)), true
	case int64:
		return binary.AppendVarint(append(dst, 'i'), v), true
	case []any:
		dst = binary.AppendUvarint(append(dst, 'a'), uint64(len(v)))
		for _, x := range v {
			var ok bool
			if dst, ok = appendValue(dst, x, depth+1); !ok {
				return dst, false
			}
		}
		return dst, true
	case []string:
		dst = binary.AppendUvarint(append(dst, 'a'), uint64(len(v)))
		for _, x := range v {
			dst = appendStr(append(dst, 's'), x)
		}
		return dst, true
	case map[string]any:
		// A nil map converts to an empty object (ast.InterfaceToValue),
		// so it is encoded as one.
		if len(dst)+2*len(v) > maxCachedKey {
			return dst, false
		}
		dst = binary.AppendUvarint(append(dst, 'm'), uint64(len(v)))
		var small [16]string
		keys := small[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			dst = appendStr(dst, k)
			var ok bool
			if dst, ok = appendValue(dst, v[k], depth+1); !ok {
				return dst, false
			}
		}
		return dst, true
	}
	return dst, false
}
