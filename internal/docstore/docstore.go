// Package docstore holds a JSON document (the role data) compactly: three
// flat, pointer-free slices instead of an OPA AST, whose every object is a
// Go map, a sorted key slice and a term per member (about 290 bytes for a
// one-key object). The garbage collector sees three objects, not millions,
// and a lookup touches a few cache lines.
//
// A Store never changes after Build. A node (a value) is named by its
// Ref, the index of its cell, which also holds its key when it is an
// object's member; objects keep their members sorted by key, which is
// also the order OPA iterates an object in. Value turns any node back
// into the AST value OPA would have decoded, for the code that needs
// OPA's types. An object of many members also has a hash table of them,
// so that finding a key touches a few cache lines, not the dozen of a
// binary search.
package docstore

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// Kind is a node's JSON type.
type Kind uint8

// The kinds of node.
const (
	Null Kind = iota
	Boolean
	Number
	String
	Array
	Object
)

// Ref names a node of a Store.
type Ref uint32

// cell is one value, with its key when it is an object's member: a
// scalar's text (a number as written, a string's bytes, a boolean's 0 or
// 1 in n) or a container's members, which are cells themselves,
// contiguous. A member's key and value share a cell (and a cache line),
// so that finding a key and reading what it holds is one miss, not two,
// once the document outgrows the CPU's caches.
type cell struct {
	// keyOff, keyLen: an object member's key in s.text (0, 0 for an
	// array's element and the root).
	keyOff, keyLen uint32
	kind           Kind
	// tableHi, tableLo: an object's hash table (see indexMin), 24 bits:
	// 0 for none, else 1 + where it starts in s.index, in tableAlign
	// slots. (They fill the padding after kind: a cell is 20 bytes.)
	tableHi uint8
	tableLo uint16
	// n: an object's or array's members, a string's or number's bytes,
	// a boolean's value.
	n uint32
	// off: the first member's cell, or the first byte in s.text.
	off uint32
}

// table is where c's hash table starts in s.index, and whether it has one.
func (c *cell) table() (start uint32, ok bool) {
	t := uint32(c.tableHi)<<16 | uint32(c.tableLo)
	return (t - 1) * tableAlign, t != 0
}

// setValue makes c the value v, keeping c's key.
func (c *cell) setValue(v cell) {
	c.kind, c.tableHi, c.tableLo, c.n, c.off = v.kind, v.tableHi, v.tableLo, v.n, v.off
}

// An object of indexMin members or more (up to 2^24, a slot's index) has a
// hash table: tableSize(n) slots (a load of four fifths at most), each 0
// (empty) or 1 + a member's index in its low 24 bits and 8 bits of the
// key's hash above them, so a probe reads the key's text only when the
// bits match. A binary search of 100 keys reads about seven members and
// seven keys' text, each likely a cache miss once the document outgrows
// the CPU's caches (100k users: each account's users and each workspace's
// members); the table reads one slot, one member and one key.
const (
	indexMin   = 16
	tableAlign = 16 // a table starts on a multiple of 16 slots
	slotIndex  = 1<<24 - 1
	maxTables  = 1<<24 - 1 // table starts a cell can name
)

func tableSize(n uint32) uint32 { return (n + n/4 + tableAlign - 1) &^ (tableAlign - 1) }

// slotOf is where a key of hash h is first looked for in a table of size
// slots (h's low half scaled to [0, size): Lemire's reduction), and the
// tag its slot holds above the member's index (h's top byte).
func slotOf(h uint64, size uint32) (slot, tag uint32) {
	return uint32(uint64(uint32(h)) * uint64(size) >> 32), uint32(h>>56) << 24
}

// ArrayIndex is step as the index of an element of an array of n, as
// OPA's in-memory store reads a path step (util.Atoi: "1", "+1" and "01"
// alike); false when it is none or out of range.
func ArrayIndex(step string, n int) (int, bool) {
	i, ok := util.Atoi(step)
	return i, ok && i >= 0 && i < n
}

// Store is an immutable JSON document.
type Store struct {
	cells []cell   // the root first; each container's members contiguous, an object's sorted by key
	text  []byte   // strings, keys and numbers (short ones stored once)
	index []uint32 // the hash tables of large objects (see indexMin)
}

// seed hashes the keys of every Store's tables: one per process, so that
// Join can copy tables from one Store into another.
var seed = maphash.MakeSeed()

// Root is the document's top node.
func (s *Store) Root() Ref { return 0 }

// Kind is r's type.
func (s *Store) Kind(r Ref) Kind { return s.cells[r].kind }

// Len is the number of an object's or array's members, 0 for a scalar.
func (s *Store) Len(r Ref) int {
	c := &s.cells[r]
	if c.kind == Object || c.kind == Array {
		return int(c.n)
	}
	return 0
}

// Get is an object's value for key; false when r is not an object or has
// no such key.
func (s *Store) Get(r Ref, key string) (Ref, bool) {
	c := &s.cells[r]
	if c.kind != Object {
		return 0, false
	}
	if start, ok := c.table(); ok {
		return s.find(c.off, c.n, start, key)
	}
	ms := s.cells[c.off : c.off+c.n]
	lo, hi := 0, len(ms)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.str(ms[mid].keyOff, ms[mid].keyLen) < key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(ms) && s.str(ms[lo].keyOff, ms[lo].keyLen) == key {
		return Ref(c.off) + Ref(lo), true
	}
	return 0, false
}

// find is Get through the hash table at start of an object of n members
// from cell off.
func (s *Store) find(off, n, start uint32, key string) (Ref, bool) {
	h := maphash.String(seed, key)
	size := tableSize(n)
	tab := s.index[start : start+size]
	i, tag := slotOf(h, size)
	for {
		e := tab[i]
		if e == 0 {
			return 0, false
		}
		if e&^slotIndex == tag {
			m := off + e&slotIndex - 1
			if c := &s.cells[m]; s.str(c.keyOff, c.keyLen) == key {
				return Ref(m), true
			}
		}
		if i++; i == size {
			i = 0
		}
	}
}

// Member is an object's i-th member in key order.
func (s *Store) Member(r Ref, i int) (key string, value Ref) {
	m := s.cells[r].off + uint32(i)
	c := &s.cells[m]
	return s.str(c.keyOff, c.keyLen), Ref(m)
}

// Elem is an array's i-th element.
func (s *Store) Elem(r Ref, i int) Ref { return Ref(s.cells[r].off + uint32(i)) }

// Text is a string's value or a number's text (as written); "" for the
// other kinds. It shares the Store's memory, which nothing writes to.
func (s *Store) Text(r Ref) string {
	c := &s.cells[r]
	if c.kind != String && c.kind != Number {
		return ""
	}
	return s.str(c.off, c.n)
}

// Bool is a boolean's value (false for the other kinds).
func (s *Store) Bool(r Ref) bool {
	c := &s.cells[r]
	return c.kind == Boolean && c.n == 1
}

func (s *Store) str(off, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&s.text[off], int(n))
}

// Value is r as the AST value OPA decodes the same JSON to: a fresh one
// each call, sharing no memory with s (the caller may keep it, past the
// snapshot: a result or a cached decision must not pin a replaced store).
// AST builds one to be held for long instead.
func (s *Store) Value(r Ref) ast.Value { return s.Term(r).Value }

// Term is Value in a term.
func (s *Store) Term(r Ref) *ast.Term {
	a := astBuilder{s: s}
	return a.term(r)
}

// Lookup follows path from the root, as OPA's in-memory store reads a
// storage path: false when a step is missing or steps into a scalar; an
// array's step is its index (ArrayIndex).
func (s *Store) Lookup(path []string) (Ref, bool) {
	r := s.Root()
	for _, k := range path {
		switch s.Kind(r) {
		case Object:
			next, ok := s.Get(r, k)
			if !ok {
				return 0, false
			}
			r = next
		case Array:
			i, ok := ArrayIndex(k, s.Len(r))
			if !ok {
				return 0, false
			}
			r = s.Elem(r, i)
		default:
			return 0, false
		}
	}
	return r, true
}

// Stats is what a Store holds, for the logs and tests.
type Stats struct {
	// Cells: every value's, a member's key included.
	Cells, TextBytes int
	// IndexSlots: the slots of the large objects' hash tables.
	IndexSlots int
}

// Stats counts s's parts.
func (s *Store) Stats() Stats {
	return Stats{len(s.cells), len(s.text), len(s.index)}
}

// Bytes is about how much memory s holds.
func (s *Store) Bytes() int {
	return cap(s.cells)*int(unsafe.Sizeof(cell{})) + cap(s.text) + cap(s.index)*4
}

// ErrTooLarge is Build's error for a document past the Store's 32-bit
// offsets (4 GiB of text or 4 billion values).
var ErrTooLarge = errors.New("document too large for a compact store")

// Build makes a Store of v, a JSON document as OPA's AST: objects with
// string keys, arrays, strings, numbers, booleans and null. Anything else
// (a set, a non-string key, a variable) is an error.
func Build(v ast.Value) (s *Store, err error) {
	b := &builder{s: &Store{}, short: make([]shortText, 1<<13)}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(buildError); ok {
				s, err = nil, e.err
				return
			}
			panic(r)
		}
	}()
	b.count(v)
	b.s.cells = make([]cell, 0, b.cells)
	b.s.text = make([]byte, 0, b.text)
	b.s.index = make([]uint32, 0, b.index)
	b.s.cells = append(b.s.cells, cell{})
	b.fill(0, v)
	// text was sized for every string; stored once, short ones take less.
	b.s.text = slices.Clone(b.s.text)
	return b.s, nil
}

type buildError struct{ err error }

type builder struct {
	s *Store
	// short: short strings already in text, by a hash of their bytes (a
	// string whose slot another took is stored again: a cache, no map of
	// every key, which cost more than the rest of Build).
	short []shortText
	// kv: the members of the objects being visited, innermost last.
	kv  [][2]*ast.Term
	add func(k, v *ast.Term)
	// capacities, from count
	cells, text, index int
}

type shortText struct{ off, n uint32 }

// shortLen bounds the strings stored once however often they occur (keys,
// roles, permission ids); longer ones (e-mail addresses, names) rarely
// repeat.
const shortLen = 32

func (b *builder) fail(format string, args ...any) {
	panic(buildError{fmt.Errorf(format, args...)})
}

// count sizes the slices (an upper bound for text: repeats are stored once).
func (b *builder) count(v ast.Value) {
	b.cells++
	switch v := v.(type) {
	case ast.Null, ast.Boolean:
	case ast.Number:
		b.text += len(v)
	case ast.String:
		b.text += len(v)
	case *ast.Array:
		for i := range v.Len() {
			b.count(v.Elem(i).Value)
		}
	case ast.Object:
		if n := v.Len(); n >= indexMin && n <= slotIndex {
			b.index += int(tableSize(uint32(n)))
		}
		base := b.push(v)
		for _, kv := range b.kv[base:] {
			ks, ok := kv[0].Value.(ast.String)
			if !ok {
				b.fail("object key %v: not a string", kv[0])
			}
			b.text += len(ks)
		}
		for i := base; i < len(b.kv); i++ {
			b.count(b.kv[i][1].Value)
		}
		b.pop(base)
	default:
		b.fail("%T is not a JSON value", v)
	}
	if b.cells > math.MaxUint32 || b.text > math.MaxUint32 || b.index > math.MaxUint32 {
		panic(buildError{ErrTooLarge})
	}
}

// fill writes v into cell r (already appended, its key written), the
// members' cells first (contiguous), then each member's tree.
func (b *builder) fill(r Ref, v ast.Value) {
	s := b.s
	switch v := v.(type) {
	case ast.Null:
		s.cells[r].setValue(cell{kind: Null})
	case ast.Boolean:
		n := uint32(0)
		if v {
			n = 1
		}
		s.cells[r].setValue(cell{kind: Boolean, n: n})
	case ast.Number:
		off, n := b.addText(string(v))
		s.cells[r].setValue(cell{kind: Number, n: n, off: off})
	case ast.String:
		off, n := b.addText(string(v))
		s.cells[r].setValue(cell{kind: String, n: n, off: off})
	case *ast.Array:
		first := uint32(len(s.cells))
		s.cells = append(s.cells, make([]cell, v.Len())...)
		s.cells[r].setValue(cell{kind: Array, n: uint32(v.Len()), off: first})
		for i := range v.Len() {
			b.fill(Ref(first)+Ref(i), v.Elem(i).Value)
		}
	case ast.Object:
		first := uint32(len(s.cells))
		// Foreach visits keys in sorted (ast.Compare) order, which for
		// strings is byte order, as Get's search needs.
		base := b.push(v)
		for _, kv := range b.kv[base:] {
			off, n := b.addText(string(kv[0].Value.(ast.String)))
			s.cells = append(s.cells, cell{keyOff: off, keyLen: n})
		}
		s.cells[r].setValue(b.object(first, uint32(v.Len())))
		for i := base; i < len(b.kv); i++ {
			b.fill(Ref(first)+Ref(i-base), b.kv[i][1].Value)
		}
		b.pop(base)
	}
}

// object is the cell of the object of n members from cell off (their
// keys written), with a hash table if it is large enough and a cell can
// name where the table starts (past 2^24 tables' starts, an object is
// searched as a small one is).
func (b *builder) object(off, n uint32) cell {
	s := b.s
	obj := cell{kind: Object, n: n, off: off}
	if n < indexMin || n > slotIndex || len(s.index)/tableAlign >= maxTables {
		return obj
	}
	start := len(s.index)
	size := tableSize(n)
	s.index = slices.Grow(s.index, int(size))[:start+int(size)]
	tab := s.index[start:]
	clear(tab)
	for j, m := range s.cells[off : off+n] {
		h := maphash.String(seed, s.str(m.keyOff, m.keyLen))
		i, tag := slotOf(h, size)
		for tab[i] != 0 {
			if i++; i == size {
				i = 0
			}
		}
		tab[i] = tag | uint32(j+1)
	}
	t := uint32(start/tableAlign + 1)
	obj.tableHi, obj.tableLo = uint8(t>>16), uint16(t)
	return obj
}

// push puts obj's members (in key order) on top of b.kv and returns where
// they start: one closure for every object, not one each.
func (b *builder) push(obj ast.Object) int {
	base := len(b.kv)
	if b.add == nil {
		b.add = func(k, v *ast.Term) { b.kv = append(b.kv, [2]*ast.Term{k, v}) }
	}
	obj.Foreach(b.add)
	return base
}

// pop takes what push put from base off b.kv.
func (b *builder) pop(base int) {
	clear(b.kv[base:])
	b.kv = b.kv[:base]
}

func (b *builder) addText(x string) (off, n uint32) {
	if len(x) == 0 {
		return 0, 0
	}
	var slot *shortText
	if len(x) <= shortLen {
		// len(b.short) is a power of two.
		slot = &b.short[maphash.String(seed, x)&uint64(len(b.short)-1)]
		if slot.n == uint32(len(x)) && b.s.str(slot.off, slot.n) == x {
			return slot.off, slot.n
		}
	}
	off = uint32(len(b.s.text))
	b.s.text = append(b.s.text, x...)
	if slot != nil {
		*slot = shortText{off: off, n: uint32(len(x))}
	}
	return off, uint32(len(x))
}
