package docstore

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Decoder turns JSON documents straight into Stores, in one pass over the
// bytes: no OPA AST and no map[string]any in between, whose millions of
// small objects were most of a large build's time and of its peak memory.
//
// It is a fast path only. Given the same bytes it builds exactly the Store
// that Build makes of OPA's AST of them (encoding/json with UseNumber, then
// ast.InterfaceToValue: numbers kept as written, valid UTF-8 as it is,
// escapes and bytes that are not UTF-8 decoded by encoding/json). Whenever
// it meets anything else (a syntax error, a duplicate key, which
// encoding/json resolves by keeping the last, very deep nesting, a number
// OPA refuses, a document past the Store's 32-bit offsets) it declines
// (ok == false), and the caller decodes with encoding/json, which also
// words every error. A Decoder is not safe for concurrent use; reuse one
// per goroutine.
type Decoder struct {
	data  []byte
	pos   int
	depth int
	b     builder
	// The members (keys written) and elements of the containers being
	// decoded, innermost last: a container's cells are appended to the
	// Store when it closes, after its members' own, so that they are
	// contiguous.
	stack []cell
}

// maxDepth is well under encoding/json's own limit (10000), so a document
// nested deeper than this is left to encoding/json.
const maxDepth = 1000

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	return &Decoder{b: builder{short: make([]shortText, 1<<13)}}
}

// Decode returns the Store of raw's document, or ok == false when the
// caller must decode raw with encoding/json instead (see Decoder).
func (d *Decoder) Decode(raw []byte) (s *Store, ok bool) {
	if len(raw) >= math.MaxUint32 {
		return nil, false // offsets into text (and counts of nodes) could overflow
	}
	d.data, d.pos, d.depth = raw, 0, 0
	d.stack = d.stack[:0]
	// Sized for role data (spec/data.md; an account's file of 18.6 KB
	// holds 496 values and 5.2 KB of text, its short strings stored
	// once), with a little to spare: other documents grow the slices as
	// they go.
	d.b.s = &Store{
		cells: make([]cell, 1, len(raw)/32+2), // the root's first
		text:  make([]byte, 0, len(raw)*2/7+1),
	}
	clear(d.b.short) // offsets into the last document's text
	defer func() { d.data, d.b.s = nil, nil }()
	d.skipSpace()
	root, ok := d.value()
	if !ok {
		return nil, false
	}
	d.b.s.cells[0] = root
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, false
	}
	// Decoded text may outgrow the bytes it came from (an invalid UTF-8
	// byte becomes the three of U+FFFD): past 32-bit offsets, decline.
	if len(d.b.s.text) > math.MaxUint32 || len(d.b.s.cells) > math.MaxUint32 {
		return nil, false
	}
	return d.b.s, true
}

func (d *Decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value decodes the value at d.pos, into a cell for its container (or
// the root) to place.
func (d *Decoder) value() (cell, bool) {
	if d.pos >= len(d.data) {
		return cell{}, false
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		off, n, ok := d.str()
		return cell{kind: String, n: n, off: off}, ok
	case c == 't':
		return d.literal("true", cell{kind: Boolean, n: 1})
	case c == 'f':
		return d.literal("false", cell{kind: Boolean})
	case c == 'n':
		return d.literal("null", cell{kind: Null})
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	}
	return cell{}, false
}

func (d *Decoder) literal(word string, c cell) (cell, bool) {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return cell{}, false
	}
	d.pos += len(word)
	return c, true
}

func (d *Decoder) object() (cell, bool) {
	if d.depth++; d.depth > maxDepth {
		return cell{}, false
	}
	base := len(d.stack)
	if !d.list('}', func() bool {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return false
		}
		koff, klen, ok := d.str()
		if !ok {
			return false
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return false
		}
		d.pos++
		d.skipSpace()
		v, ok := d.value()
		if ok {
			v.keyOff, v.keyLen = koff, klen
			d.stack = append(d.stack, v)
		}
		return ok
	}) {
		return cell{}, false
	}
	s := d.b.s
	ms := d.stack[base:]
	// Members in key order (byte order, as OPA orders string keys), which
	// also puts a duplicate key beside its twin.
	slices.SortFunc(ms, func(a, b cell) int {
		return strings.Compare(s.str(a.keyOff, a.keyLen), s.str(b.keyOff, b.keyLen))
	})
	for i := 1; i < len(ms); i++ {
		if s.str(ms[i].keyOff, ms[i].keyLen) == s.str(ms[i-1].keyOff, ms[i-1].keyLen) {
			return cell{}, false // encoding/json keeps the last: leave that to it
		}
	}
	off := uint32(len(s.cells))
	s.cells = append(s.cells, ms...)
	obj := d.b.object(off, uint32(len(ms)))
	d.stack = d.stack[:base]
	d.depth--
	return obj, true
}

func (d *Decoder) array() (cell, bool) {
	if d.depth++; d.depth > maxDepth {
		return cell{}, false
	}
	base := len(d.stack)
	if !d.list(']', func() bool {
		v, ok := d.value()
		if ok {
			d.stack = append(d.stack, v)
		}
		return ok
	}) {
		return cell{}, false
	}
	s := d.b.s
	es := d.stack[base:]
	arr := cell{kind: Array, n: uint32(len(es)), off: uint32(len(s.cells))}
	s.cells = append(s.cells, es...)
	d.stack = d.stack[:base]
	d.depth--
	return arr, true
}

// list reads the items of the object or array that opens at d.pos, to
// its closing byte, each with item (which reads one, from a non-space
// byte); false on a syntax error.
func (d *Decoder) list(closing byte, item func() bool) bool {
	d.pos++ // '{' or '['
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == closing {
		d.pos++
		return true
	}
	for {
		if !item() {
			return false
		}
		d.skipSpace()
		if d.pos >= len(d.data) {
			return false
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.skipSpace()
		case closing:
			d.pos++
			return true
		default:
			return false
		}
	}
}

// str decodes the string at d.pos into the Store's text.
// Valid UTF-8 (names with accents, say) is its own text, as encoding/json
// keeps it.
func (d *Decoder) str() (off, n uint32, ok bool) {
	start := d.pos + 1
	i := start
	ascii := true
	for i < len(d.data) {
		c := d.data[i]
		if c == '"' {
			break
		}
		if c == '\\' || c < 0x20 {
			return d.slowStr()
		}
		ascii = ascii && c < utf8.RuneSelf
		i++
	}
	if i >= len(d.data) {
		return 0, 0, false
	}
	if !ascii && !utf8.Valid(d.data[start:i]) {
		return d.slowStr() // encoding/json replaces what is not UTF-8
	}
	d.pos = i + 1
	off, n = d.b.addText(unsafeString(d.data[start:i]))
	return off, n, true
}

// slowStr decodes a string holding escapes, or bytes that are not UTF-8,
// with encoding/json, which decides what they mean (and what is invalid).
func (d *Decoder) slowStr() (off, n uint32, ok bool) {
	i := d.pos + 1
	for ; i < len(d.data) && d.data[i] != '"'; i++ {
		if d.data[i] == '\\' {
			i++
		}
	}
	if i >= len(d.data) {
		return 0, 0, false
	}
	var x string
	if err := json.Unmarshal(d.data[d.pos:i+1], &x); err != nil {
		return 0, 0, false
	}
	d.pos = i + 1
	off, n = d.b.addText(x)
	return off, n, true
}

// number accepts exactly JSON's number grammar and keeps the literal, as
// json.Number (and OPA's ast.Number after it) does.
func (d *Decoder) number() (cell, bool) {
	start, i, n := d.pos, d.pos, len(d.data)
	digits := func() bool {
		j := i
		for i < n && '0' <= d.data[i] && d.data[i] <= '9' {
			i++
		}
		return i > j
	}
	if d.data[i] == '-' {
		i++
	}
	switch {
	case i < n && d.data[i] == '0':
		i++
	case !digits():
		return cell{}, false
	}
	if i < n && d.data[i] == '.' {
		i++
		if !digits() {
			return cell{}, false
		}
	}
	if i < n && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < n && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		if !digits() {
			return cell{}, false
		}
	}
	d.pos = i
	lit := unsafeString(d.data[start:i])
	// OPA refuses a number its evaluator cannot handle (an exponent past
	// 2^100000): leave it to the slow path, which reports it.
	if _, err := ast.NumberChecked(lit); err != nil {
		return cell{}, false
	}
	off, tn := d.b.addText(lit)
	return cell{kind: Number, n: tn, off: off}, true
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
