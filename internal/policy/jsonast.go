package policy

import (
	"encoding/json"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// astDecoder turns a JSON document straight into OPA AST values in one pass,
// with no intermediate map[string]any (decoding into Go values and then
// converting them was most of a large build, and the garbage of the first
// representation most of its peak memory).
//
// It is a fast path only: it accepts a subset of what encoding/json accepts
// and, given the same bytes, yields exactly what ast.InterfaceToValue makes
// of encoding/json's result (with UseNumber). Whenever it meets anything
// else — a syntax error, a duplicate key, an escape sequence or non-ASCII
// byte it would have to interpret, very deep nesting — it gives up (ok ==
// false) and the caller decodes with encoding/json, which produces the same
// values or the exact error message.
//
// Short strings are interned (per document, plus the first document's as a
// vocabulary shared by all): role data repeats field, role and permission
// names and an account's user ids (keys of users and members, elements of
// role group members) thousands of times, and equal *ast.Term values may be shared since
// AST values in the store are never modified. A decoder is not safe for
// concurrent use; reuse one per goroutine.
type astDecoder struct {
	data  []byte
	pos   int
	depth int

	strs   map[string]*ast.Term // interned short strings of the current document
	common map[string]*ast.Term // those of the first document, shared by all
	items  [][2]*ast.Term       // stack of object members being decoded
	elems  []*ast.Term          // stack of array elements being decoded
	seen   map[string]struct{}  // scratch for duplicate-key checks
	slab   []ast.Term           // terms not handed out yet
}

const (
	// maxInternLen bounds the strings interned: longer ones (e-mail
	// addresses, display names) are rarely repeated.
	maxInternLen = 24
	// maxASTDepth is well under encoding/json's own limit (10000), so a
	// document nested deeper than this is left to encoding/json.
	maxASTDepth = 1000
)

func newASTDecoder() *astDecoder {
	return &astDecoder{strs: map[string]*ast.Term{}, seen: map[string]struct{}{}}
}

// decode returns the value raw holds, or ok == false when the caller must
// decode raw with encoding/json instead.
func (d *astDecoder) decode(raw []byte) (v ast.Value, ok bool) {
	d.data, d.pos, d.depth = raw, 0, 0
	d.items, d.elems = d.items[:0], d.elems[:0]
	// What repeats is mostly within one file (an account's user ids), so
	// the table is per document and stays small; the first document's table
	// is kept as the vocabulary later ones share (field, role, permission
	// and workspace names).
	switch {
	case len(d.strs) == 0:
	case d.common == nil:
		d.common = d.strs
		d.strs = make(map[string]*ast.Term, len(d.common))
	default:
		clear(d.strs)
	}
	d.skipSpace()
	t, ok := d.value()
	if !ok {
		return nil, false
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, false
	}
	d.data = nil
	return t.Value, true
}

// term returns a new term for v. Terms are allocated in blocks: a large
// document has hundreds of thousands, and all of them live as long as the
// store does.
func (d *astDecoder) term(v ast.Value) *ast.Term {
	if len(d.slab) == 0 {
		d.slab = make([]ast.Term, 256)
	}
	t := &d.slab[0]
	d.slab = d.slab[1:]
	t.Value = v
	return t
}

func (d *astDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *astDecoder) value() (*ast.Term, bool) {
	if d.pos >= len(d.data) {
		return nil, false
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str(maxInternLen)
	case c == 't':
		return d.literal("true", ast.InternedTerm(true))
	case c == 'f':
		return d.literal("false", ast.InternedTerm(false))
	case c == 'n':
		return d.literal("null", ast.InternedNullTerm)
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	}
	return nil, false
}

func (d *astDecoder) literal(word string, t *ast.Term) (*ast.Term, bool) {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return nil, false
	}
	d.pos += len(word)
	return t, true
}

func (d *astDecoder) object() (*ast.Term, bool) {
	if d.depth++; d.depth > maxASTDepth {
		return nil, false
	}
	d.pos++ // '{'
	base := len(d.items)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return d.term(ast.NewObject()), true
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, false
		}
		k, ok := d.str(maxInternLen * 4) // keys repeat far more than values
		if !ok {
			return nil, false
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, false
		}
		d.pos++
		d.skipSpace()
		v, ok := d.value()
		if !ok {
			return nil, false
		}
		d.items = append(d.items, [2]*ast.Term{k, v})
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, false
		}
		if c := d.data[d.pos]; c == ',' {
			d.pos++
			d.skipSpace()
			continue
		} else if c != '}' {
			return nil, false
		}
		d.pos++
		break
	}
	items := d.items[base:]
	if d.hasDuplicateKey(items) {
		return nil, false // encoding/json keeps the last: leave that to it
	}
	obj := ast.NewObject(items...)
	clear(items)
	d.items = d.items[:base]
	d.depth--
	return d.term(obj), true
}

func (d *astDecoder) hasDuplicateKey(items [][2]*ast.Term) bool {
	if len(items) <= 8 {
		for i := 1; i < len(items); i++ {
			for j := range i {
				if items[i][0].Value.(ast.String) == items[j][0].Value.(ast.String) {
					return true
				}
			}
		}
		return false
	}
	clear(d.seen)
	for _, kv := range items {
		k := string(kv[0].Value.(ast.String))
		if _, dup := d.seen[k]; dup {
			return true
		}
		d.seen[k] = struct{}{}
	}
	return false
}

func (d *astDecoder) array() (*ast.Term, bool) {
	if d.depth++; d.depth > maxASTDepth {
		return nil, false
	}
	d.pos++ // '['
	base := len(d.elems)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return d.term(ast.NewArray()), true
	}
	for {
		v, ok := d.value()
		if !ok {
			return nil, false
		}
		d.elems = append(d.elems, v)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, false
		}
		if c := d.data[d.pos]; c == ',' {
			d.pos++
			d.skipSpace()
			continue
		} else if c != ']' {
			return nil, false
		}
		d.pos++
		break
	}
	elems := slices.Clone(d.elems[base:])
	clear(d.elems[base:])
	d.elems = d.elems[:base]
	d.depth--
	return d.term(ast.NewArray(elems...)), true
}

// str decodes the string at d.pos, interning it when it is at most intern
// bytes long.
func (d *astDecoder) str(intern int) (*ast.Term, bool) {
	start := d.pos + 1
	i := start
	for i < len(d.data) {
		c := d.data[i]
		if c == '"' {
			break
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return d.slowStr()
		}
		i++
	}
	if i >= len(d.data) {
		return nil, false
	}
	d.pos = i + 1
	b := d.data[start:i]
	if len(b) > intern {
		return d.term(ast.String(b)), true
	}
	if t, ok := d.strs[string(b)]; ok {
		return t, true
	}
	if t, ok := d.common[string(b)]; ok {
		return t, true
	}
	t := d.term(ast.String(b))
	d.strs[string(b)] = t
	return t, true
}

// slowStr decodes a string holding escapes or non-ASCII bytes with
// encoding/json, which decides what they mean (and what is invalid).
func (d *astDecoder) slowStr() (*ast.Term, bool) {
	i := d.pos + 1
	for ; i < len(d.data) && d.data[i] != '"'; i++ {
		if d.data[i] == '\\' {
			i++
		}
	}
	if i >= len(d.data) {
		return nil, false
	}
	var s string
	if err := json.Unmarshal(d.data[d.pos:i+1], &s); err != nil {
		return nil, false
	}
	d.pos = i + 1
	return d.term(ast.String(s)), true
}

// number accepts exactly JSON's number grammar and keeps the literal, as
// json.Number does.
func (d *astDecoder) number() (*ast.Term, bool) {
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
		return nil, false
	}
	if i < n && d.data[i] == '.' {
		i++
		if !digits() {
			return nil, false
		}
	}
	if i < n && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < n && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false
		}
	}
	d.pos = i
	v, err := ast.InterfaceToValue(json.Number(d.data[start:i]))
	if err != nil {
		return nil, false
	}
	return d.term(v), true
}
