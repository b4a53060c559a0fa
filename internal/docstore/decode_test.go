package docstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// reference decodes raw as the slow path does: encoding/json with
// UseNumber, then OPA's ast.InterfaceToValue.
func reference(raw []byte) (ast.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("content after the document")
	}
	return ast.InterfaceToValue(x)
}

// checkDecoded holds what Decode made of raw to OPA's value of it.
func checkDecoded(t *testing.T, raw []byte, s *Store) {
	t.Helper()
	want, err := reference(raw)
	if err != nil {
		t.Fatalf("Decode accepted %q, encoding/json refuses it: %v", raw, err)
	}
	got := s.Value(s.Root())
	if ast.Compare(got, want) != 0 || got.String() != want.String() {
		t.Fatalf("Decode(%q) = %v, want %v", raw, got, want)
	}
	checkNavigation(t, s, s.Root(), want)
}

func TestDecodeIsOPAsValue(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	d := NewDecoder()
	for i := range 2000 {
		v := randomValue(r, 5)
		raw := []byte(v.String()) // OPA's text of a JSON value is JSON
		if r.IntN(2) == 0 {
			var buf bytes.Buffer
			if err := json.Indent(&buf, raw, " ", "\t"); err != nil {
				t.Fatal(err)
			}
			raw = append(buf.Bytes(), "\r\n"...)
		}
		s, ok := d.Decode(raw)
		if !ok {
			t.Fatalf("%d: Decode declined %q", i, raw)
		}
		checkDecoded(t, raw, s)
		// Reused, a Decoder's short strings are the new document's.
		if i%7 == 0 {
			if again, ok := d.Decode(raw); !ok || ast.Compare(again.Value(again.Root()), s.Value(s.Root())) != 0 {
				t.Fatalf("%d: a second Decode of %q differs", i, raw)
			}
		}
	}
}

func TestDecodeScalarsAsOPA(t *testing.T) {
	d := NewDecoder()
	for _, raw := range []string{
		`0`, `-0`, `1e3`, `1E+3`, `-0.5e-7`, `1E-999999999`, `123456789012345678901234567890`, `1.50`,
		`"a\"b"`, `"\u00fc"`, `"ü"`, `"tab\tand\\"`, `"\ud83d\ude00"`, `""`,
		`true`, `false`, `null`, `[]`, `{}`, ` [ 1 , "x" , { } ] `,
		`{"b":1,"a":2,"ab":3,"":4,"B":5}`,
		`{"\u0061":1,"b":2}`,
		// Raw UTF-8 is kept; what is not UTF-8 becomes U+FFFD, as
		// encoding/json decodes it.
		`"日本"`, "\"\xf0\x9f\x98\x80\"", "\"\xe2\x80\xa8\"", "\"a\xffb\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"", `{"Zoë":"Müller"}`,
	} {
		s, ok := d.Decode([]byte(raw))
		if !ok {
			t.Errorf("Decode declined %s", raw)
			continue
		}
		checkDecoded(t, []byte(raw), s)
	}
}

// Anything Decode declines goes to encoding/json, which words the error or
// (a duplicate key) decides what the document is.
func TestDecodeDeclines(t *testing.T) {
	d := NewDecoder()
	for _, raw := range []string{
		``, ` `, `{`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{a:1}`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
		`tru`, `nul`, `"abc`, "\"a\x01b\"", `"\x"`, `{"a":1}{}`, `{"a":1} x`, `[1 2]`, `NaN`,
		`{"a":1,"a":2}`, `{"k":{"x":1,"y":2,"x":3}}`,
		`{"a":1e999999999}`, `[-1E+999999999]`, // exponents OPA refuses (ast.NumberChecked)
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	} {
		if _, ok := d.Decode([]byte(raw)); ok {
			t.Errorf("Decode accepted %q", raw)
		}
	}
	// Declining leaves the Decoder usable.
	if s, ok := d.Decode([]byte(`{"a":[1,2]}`)); !ok {
		t.Fatal("Decode declined a document after declining others")
	} else {
		checkDecoded(t, []byte(`{"a":[1,2]}`), s)
	}
}

func FuzzDecode(f *testing.F) {
	for _, seed := range []string{`{"a":{"b":[1,"x",null,true]}}`, `[{"k1":1,"k2":2}]`, `"\u00e9"`, `{"a":1,"a":2}`, `-1.5e10`, `{"a":1e999999999}`} {
		f.Add([]byte(seed))
	}
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, raw []byte) {
		if s, ok := d.Decode(raw); ok {
			checkDecoded(t, raw, s)
		}
	})
}

// randomTree places random documents, each in a Store of its own (some
// Stores holding several of them), at random keys, and returns the Tree
// and OPA's value of what it stands for.
func randomTree(r *rand.Rand, depth int, stores []*Store, values []ast.Value) (Tree, ast.Object) {
	t := Tree{}
	obj := ast.NewObject()
	n := r.IntN(5)
	if r.IntN(4) == 0 {
		n = indexMin + r.IntN(20) // a table of the Tree's own
	}
	for range n {
		key := fmt.Sprintf("k%d", r.IntN(40))
		if _, dup := t[key]; dup {
			continue
		}
		if depth > 0 && r.IntN(3) == 0 {
			sub, v := randomTree(r, depth-1, stores, values)
			t[key] = sub
			obj.Insert(ast.StringTerm(key), ast.NewTerm(v))
			continue
		}
		i := r.IntN(len(stores))
		s, v := stores[i], values[i]
		ref, val := s.Root(), v
		if o, ok := v.(ast.Object); ok && o.Len() > 0 && r.IntN(2) == 0 {
			k := o.Keys()[r.IntN(o.Len())] // a member of a Store, not its root
			ref, _ = s.Get(s.Root(), string(k.Value.(ast.String)))
			val = o.Get(k).Value
		}
		t[key] = Sub{S: s, R: ref}
		obj.Insert(ast.StringTerm(key), ast.NewTerm(val))
	}
	return t, obj
}

func TestJoinIsTheTree(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	d := NewDecoder()
	for i := range 300 {
		var stores []*Store
		var values []ast.Value
		for range 1 + r.IntN(6) {
			v := randomValue(r, 4)
			var s *Store
			if r.IntN(2) == 0 {
				var ok bool
				if s, ok = d.Decode([]byte(v.String())); !ok {
					t.Fatalf("Decode declined %v", v)
				}
			} else {
				var err error
				if s, err = Build(v); err != nil {
					t.Fatal(err)
				}
			}
			stores, values = append(stores, s), append(values, v)
		}
		tree, want := randomTree(r, 3, stores, values)
		s, err := Join(tree)
		if err != nil {
			t.Fatal(err)
		}
		got := s.Value(s.Root())
		if ast.Compare(got, want) != 0 {
			t.Fatalf("%d: Join = %v, want %v", i, got, want)
		}
		checkNavigation(t, s, s.Root(), want)
		var parts int
		for _, p := range stores {
			parts += len(p.text)
		}
		if len(s.text) > parts+1000 {
			t.Fatalf("%d: joined text %d bytes, parts %d", i, len(s.text), parts)
		}
	}
}

// A table whose start a node cannot name once moved is dropped: the
// object is searched as a small one, and still finds every key.
func TestJoinDropsTablesPastTheLimit(t *testing.T) {
	obj := ast.NewObject()
	for i := range 3 * indexMin {
		obj.Insert(ast.StringTerm(fmt.Sprintf("key-%d", i)), ast.NumberTerm(json.Number(fmt.Sprint(i))))
	}
	o, err := Build(obj)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o.cells[o.Root()].table(); !ok {
		t.Fatal("the object has no table to begin with")
	}
	s := &Store{}
	s.appendMoved(o, bases{index: maxTables * tableAlign})
	if _, ok := s.cells[0].table(); ok {
		t.Fatal("a table past 2^24 starts is still named")
	}
	checkNavigation(t, s, 0, obj)
}

// AST builds what Value builds, sharing what it may.
func TestASTIsValue(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 1000 {
		v := randomValue(r, 5)
		s, err := Build(v)
		if err != nil {
			t.Fatal(err)
		}
		got := s.AST(s.Root())
		if ast.Compare(got, v) != 0 || got.String() != v.String() || got.Hash() != v.Hash() {
			t.Fatalf("%d: AST = %v, want %v", i, got, v)
		}
	}
	// Short strings are one term wherever they occur.
	s, err := Build(ast.MustParseTerm(`{"a": ["role", "role"], "b": {"role": "role"}}`).Value)
	if err != nil {
		t.Fatal(err)
	}
	doc := s.AST(s.Root()).(ast.Object)
	arr := doc.Get(ast.StringTerm("a")).Value.(*ast.Array)
	if arr.Elem(0) != arr.Elem(1) {
		t.Error("a short string repeated is two terms")
	}
}
