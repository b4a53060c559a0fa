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
	tot := bases{nodes: 1} // the root's node comes first
	for _, o := range j.stores {
		j.base[o] = tot
		tot.nodes += len(o.nodes)
		tot.members += len(o.members)
		tot.elems += len(o.elems)
		tot.text += len(o.text)
		tot.index += len(o.index)
	}
	nodes, members, text, index := tot.nodes+j.nodes-1, tot.members+j.members, tot.text+j.text, tot.index+j.index
	if nodes > math.MaxUint32 || members > math.MaxUint32 || tot.elems > math.MaxUint32 || text > math.MaxUint32 || index > math.MaxUint32 {
		return nil, ErrTooLarge
	}
	s := &Store{
		nodes:   make([]node, 1, nodes), // the root first: Ref 0
		members: make([]member, 0, members),
		elems:   make([]Ref, 0, tot.elems),
		text:    make([]byte, 0, text),
		index:   make([]uint32, 0, index),
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
type bases struct{ nodes, members, elems, text, index int }

type joiner struct {
	stores []*Store // in the order first met
	base   map[*Store]bases
	// What t's own objects add: a node and members each, their keys'
	// text, their hash tables.
	nodes, members, text, index int
}

func (j *joiner) count(t Tree) {
	j.nodes++
	j.members += len(t)
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

// fill writes Tree t into node r (already appended).
func (j *joiner) fill(b *builder, r Ref, t Tree) {
	s := b.s
	keys := sortedKeys(t)
	first := len(s.members)
	var trees []Ref // t's Tree members' nodes, in key order
	for _, k := range keys {
		off, n := b.addText(k)
		var v Ref
		switch x := t[k].(type) {
		case Tree:
			v = Ref(len(s.nodes))
			s.nodes = append(s.nodes, node{})
			trees = append(trees, v)
		case Sub:
			v = Ref(j.base[x.S].nodes) + x.R
		}
		s.members = append(s.members, member{keyOff: off, keyLen: n, value: v})
	}
	s.nodes[r] = node{kind: Object, n: uint32(len(keys)), off: uint32(first)}
	b.table(r)
	i := 0
	for _, k := range keys {
		if sub, ok := t[k].(Tree); ok {
			j.fill(b, trees[i], sub)
			i++
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
	for _, n := range o.nodes {
		switch n.kind {
		case Object:
			n.off += uint32(at.members)
			if t := uint32(n.tableHi)<<16 | uint32(n.tableLo); t != 0 {
				if t += tableShift; t > maxTables {
					t = 0 // past what a node can name: searched as a small object is
				}
				n.tableHi, n.tableLo = uint8(t>>16), uint16(t)
			}
		case Array:
			n.off += uint32(at.elems)
		case String, Number:
			if n.n > 0 {
				n.off += uint32(at.text)
			}
		}
		s.nodes = append(s.nodes, n)
	}
	for _, m := range o.members {
		if m.keyLen > 0 {
			m.keyOff += uint32(at.text)
		}
		m.value += Ref(at.nodes)
		s.members = append(s.members, m)
	}
	for _, e := range o.elems {
		s.elems = append(s.elems, e+Ref(at.nodes))
	}
	s.text = append(s.text, o.text...)
	s.index = append(s.index, o.index...)
}
