package docstore

import (
	"math"
	"slices"
)

// Tree is a document for Join to assemble: an object whose members are
// Trees or Subs (the data files, decoded each into a Store of its own and
// placed by their paths).
type Tree map[string]any

// Sub is node R of Store S, for a Tree.
type Sub struct {
	S *Store
	R Ref
}

// Join makes one Store of t: each Store its Subs name is copied in whole
// (what no Sub reaches is copied too, and never read), with its offsets
// moved, which is a few linear passes with no decoding; t's own objects
// are built around them. Every Store must come from this process (Build,
// Decoder or Join): their hash tables are copied as they are.
func Join(t Tree) (*Store, error) {
	j := joiner{base: map[*Store]bases{}}
	j.count(t)
	tot := bases{cells: 1} // the root's cell comes first
	for _, o := range j.stores {
		j.base[o] = tot
		tot.cells += len(o.cells)
		tot.text += len(o.text)
		tot.index += len(o.index)
	}
	cells, text, index := tot.cells+j.cells, tot.text+j.text, tot.index+j.index
	if cells > math.MaxUint32 || text > math.MaxUint32 || index > math.MaxUint32 {
		return nil, ErrTooLarge
	}
	s := &Store{
		cells: make([]cell, 1, cells), // the root first: Ref 0
		text:  make([]byte, 0, text),
		index: make([]uint32, 0, index),
	}
	for _, o := range j.stores {
		s.appendMoved(o, j.base[o])
	}
	b := builder{s: s, short: make([]shortText, 1<<8)}
	j.fill(&b, 0, t)
	return s, nil
}

// bases is where one Store's parts start in the joined Store (and, in
// joiner, the sum of all of them).
type bases struct{ cells, text, index int }

type joiner struct {
	stores []*Store // in the order first met
	base   map[*Store]bases
	// What t's own objects add: their members' cells, their keys' text,
	// their hash tables.
	cells, text, index int
}

func (j *joiner) count(t Tree) {
	j.cells += len(t)
	if n := len(t); n >= indexMin && n <= slotIndex {
		j.index += int(tableSize(uint32(n)))
	}
	for _, k := range sortedKeys(t) {
		j.text += len(k)
		switch v := t[k].(type) {
		case Tree:
			j.count(v)
		case Sub:
			if _, ok := j.base[v.S]; !ok {
				j.base[v.S] = bases{}
				j.stores = append(j.stores, v.S)
			}
		default:
			panic("docstore.Join: a Tree member is neither a Tree nor a Sub")
		}
	}
}

// fill writes Tree t into cell r (already appended): its members' cells
// first (a Sub's is a copy of its node's cell, whose own members are
// already in s), then each Tree member's.
func (j *joiner) fill(b *builder, r Ref, t Tree) {
	s := b.s
	keys := sortedKeys(t)
	first := uint32(len(s.cells))
	for _, k := range keys {
		m := cell{}
		if x, ok := t[k].(Sub); ok {
			m = s.cells[Ref(j.base[x.S].cells)+x.R]
		}
		m.keyOff, m.keyLen = b.addText(k)
		s.cells = append(s.cells, m)
	}
	s.cells[r].setValue(b.object(first, uint32(len(keys))))
	for i, k := range keys {
		if sub, ok := t[k].(Tree); ok {
			j.fill(b, Ref(first)+Ref(i), sub)
		}
	}
}

func sortedKeys(t Tree) []string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys) // byte order, as Get's search needs
	return keys
}

// appendMoved appends o's parts to s, their offsets moved by at (where
// they start in s).
func (s *Store) appendMoved(o *Store, at bases) {
	tableShift := uint32(at.index / tableAlign) // every table's size is a multiple of tableAlign
	for _, c := range o.cells {
		if c.keyLen > 0 {
			c.keyOff += uint32(at.text)
		}
		switch c.kind {
		case Object:
			c.off += uint32(at.cells)
			if t := uint32(c.tableHi)<<16 | uint32(c.tableLo); t != 0 {
				if t += tableShift; t > maxTables {
					t = 0 // past what a cell can name: searched as a small object is
				}
				c.tableHi, c.tableLo = uint8(t>>16), uint16(t)
			}
		case Array:
			c.off += uint32(at.cells)
		case String, Number:
			if c.n > 0 {
				c.off += uint32(at.text)
			}
		}
		s.cells = append(s.cells, c)
	}
	s.text = append(s.text, o.text...)
	s.index = append(s.index, o.index...)
}
