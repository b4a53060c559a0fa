package docstore

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// randomValue makes a JSON document of OPA's AST: nested objects and
// arrays, repeated short keys, long strings, every scalar kind.
func randomValue(r *rand.Rand, depth int) ast.Value {
	k := r.IntN(8)
	if depth <= 0 {
		k = r.IntN(5)
	}
	switch k {
	case 0:
		return ast.Null{}
	case 1:
		return ast.Boolean(r.IntN(2) == 0)
	case 2:
		return ast.Number(fmt.Sprint(r.IntN(2000) - 1000))
	case 3:
		return ast.String(strings.Repeat("x", r.IntN(40)))
	case 4:
		return ast.String(fmt.Sprintf("u%d@example.test", r.IntN(50)))
	case 5:
		n := r.IntN(6)
		elems := make([]*ast.Term, n)
		for i := range elems {
			elems[i] = ast.NewTerm(randomValue(r, depth-1))
		}
		return ast.NewArray(elems...)
	default:
		n := r.IntN(8)
		if r.IntN(10) == 0 {
			n = r.IntN(3 * indexMin) // large enough for a hash table, often
		}
		obj := ast.NewObject()
		for range n {
			key := []string{"", "a", "b", "email", "members", "ü", "Z", "a long key that is not stored once, past 32 bytes"}[r.IntN(8)]
			if r.IntN(3) == 0 {
				key = fmt.Sprintf("k%d", r.IntN(100))
			}
			obj.Insert(ast.StringTerm(key), ast.NewTerm(randomValue(r, depth-1)))
		}
		return obj
	}
}

func TestValueIsWhatWasBuilt(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		v := randomValue(r, 5)
		s, err := Build(v)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		got := s.Value(s.Root())
		if ast.Compare(got, v) != 0 {
			t.Fatalf("%d: Value = %v, want %v", i, got, v)
		}
		if got.Hash() != v.Hash() {
			t.Fatalf("%d: hash %d, want %d", i, got.Hash(), v.Hash())
		}
		if got.String() != v.String() {
			t.Fatalf("%d: text %s, want %s", i, got, v)
		}
		checkNavigation(t, s, s.Root(), v)
	}
}

// checkNavigation holds Kind, Len, Get, Member, Elem and Text to v.
func checkNavigation(t *testing.T, s *Store, r Ref, v ast.Value) {
	t.Helper()
	switch v := v.(type) {
	case ast.Null:
		want(t, s.Kind(r) == Null, "null")
	case ast.Boolean:
		want(t, s.Kind(r) == Boolean && s.Bool(r) == bool(v), "boolean %v", v)
	case ast.Number:
		want(t, s.Kind(r) == Number && s.Text(r) == string(v), "number %v", v)
	case ast.String:
		want(t, s.Kind(r) == String && s.Text(r) == string(v), "string %v", v)
	case *ast.Array:
		want(t, s.Kind(r) == Array && s.Len(r) == v.Len(), "array %v", v)
		for i := range v.Len() {
			checkNavigation(t, s, s.Elem(r, i), v.Elem(i).Value)
		}
	case ast.Object:
		want(t, s.Kind(r) == Object && s.Len(r) == v.Len(), "object %v", v)
		i := 0
		v.Foreach(func(k, x *ast.Term) {
			key, m := s.Member(r, i)
			want(t, key == string(k.Value.(ast.String)), "member %d of %v: key %q", i, v, key)
			got, ok := s.Get(r, key)
			want(t, ok && got == m, "Get(%q) of %v", key, v)
			checkNavigation(t, s, m, x.Value)
			i++
		})
		for _, missing := range []string{"", "0", "zz", "email2", "\xff", "k", "k1000", "k5\x00", "b "} {
			if v.Get(ast.StringTerm(missing)) == nil {
				_, ok := s.Get(r, missing)
				want(t, !ok, "Get(%q) of %v found a member", missing, v)
			}
		}
	}
	if s.Kind(r) != Object {
		_, ok := s.Get(r, "a")
		want(t, !ok, "Get of a %v", s.Kind(r))
	}
}

func want(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}

func TestLookup(t *testing.T) {
	doc := ast.MustParseTerm(`{"accounts": {"acme": {"users": {"bob": {"email": "b@x"}}, "tags": ["a", {"k": 1}]}}, "n": 5}`).Value
	s, err := Build(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path []string
		want string // "" for not found
	}{
		{nil, doc.String()},
		{[]string{"accounts", "acme", "users", "bob", "email"}, `"b@x"`},
		{[]string{"accounts", "acme", "tags", "1", "k"}, `1`},
		{[]string{"accounts", "acme", "tags", "0"}, `"a"`},
		{[]string{"accounts", "acme", "tags", "2"}, ""},
		{[]string{"accounts", "acme", "tags", "+1", "k"}, `1`}, // as OPA's store reads it
		{[]string{"accounts", "acme", "tags", "-1"}, ""},
		{[]string{"accounts", "acme", "tags", "x"}, ""},
		{[]string{"accounts", "globex"}, ""},
		{[]string{"n", "x"}, ""},
	} {
		r, ok := s.Lookup(tc.path)
		got := ""
		if ok {
			got = s.Value(r).String()
		}
		if got != tc.want {
			t.Errorf("Lookup(%q) = %s, want %s", tc.path, got, tc.want)
		}
	}
}

func TestBuildRefusesWhatJSONCannotHold(t *testing.T) {
	for _, text := range []string{`{"a": {1, 2}}`, `{1: "a"}`, `{"a": [x]}`} {
		if _, err := Build(ast.MustParseTerm(text).Value); err == nil {
			t.Errorf("Build(%s): no error", text)
		}
	}
}

func TestShortStringsStoredOnce(t *testing.T) {
	obj := ast.NewObject()
	for i := range 1000 {
		obj.Insert(ast.StringTerm(fmt.Sprintf("user%04d", i)), ast.ObjectTerm(
			ast.Item(ast.StringTerm("email"), ast.StringTerm(fmt.Sprintf("user%04d@a-rather-long-domain.example.test", i))),
			ast.Item(ast.StringTerm("role"), ast.StringTerm("member"))))
	}
	s, err := Build(obj)
	if err != nil {
		t.Fatal(err)
	}
	// 1,000 keys of 8 bytes and e-mails of 42, plus "email", "role" and
	// "member" once.
	if want := 1000*8 + 1000*len("user0000@a-rather-long-domain.example.test") + len("email") + len("role") + len("member"); s.Stats().TextBytes != want {
		t.Errorf("text holds %d bytes, want %d", s.Stats().TextBytes, want)
	}
}

// TestLargeObjectsFindEveryKey holds Get on objects with a hash table (of
// indexMin members or more) to their members, over every size up to 300
// and keys alike but for a byte (as a data set's ids are), and checks
// that tables exist where they should.
func TestLargeObjectsFindEveryKey(t *testing.T) {
	for n := range 300 {
		obj := ast.NewObject()
		for i := range n {
			obj.Insert(ast.StringTerm(fmt.Sprintf("acct-00001-u%05d", i*7)), ast.IntNumberTerm(i))
		}
		s, err := Build(ast.NewObject([2]*ast.Term{ast.StringTerm("users"), ast.NewTerm(obj)}))
		if err != nil {
			t.Fatal(err)
		}
		users, _ := s.Get(s.Root(), "users")
		_, hasTable := s.cells[users].table()
		want(t, hasTable == (n >= indexMin), "%d members: table %v", n, hasTable)
		slots := 0
		if n >= indexMin {
			slots = int(tableSize(uint32(n)))
		}
		want(t, s.Stats().IndexSlots == slots, "%d members: %d slots, want %d", n, s.Stats().IndexSlots, slots)
		for i := range n {
			key := fmt.Sprintf("acct-00001-u%05d", i*7)
			r, ok := s.Get(users, key)
			want(t, ok && s.Text(r) == fmt.Sprint(i), "%d members: Get(%q) = %v %v", n, key, r, ok)
			for _, miss := range []string{fmt.Sprintf("acct-00001-u%05d", i*7+1), key + "\x00", key[:len(key)-1]} {
				_, ok := s.Get(users, miss)
				want(t, !ok, "%d members: Get(%q) found a member", n, miss)
			}
		}
		checkNavigation(t, s, s.Root(), s.Value(s.Root()))
	}
}

// FuzzObjectGet builds an object of the keys in keys (split at NUL; large
// enough for a hash table when it has indexMin or more) and holds Get to
// a map of them, for each key, each key with a byte added or removed, and
// probe.
func FuzzObjectGet(f *testing.F) {
	f.Add(strings.Repeat("acct-00001-u00017\x00", 3)+"a\x00b\x00c\x00d\x00e\x00f\x00g\x00h\x00i\x00j\x00k\x00l\x00m\x00n\x00o", "acct-00001-u0001")
	f.Add("", "")
	f.Add("\x00\x00\xff", "\xff")
	f.Fuzz(func(t *testing.T, keys, probe string) {
		want := map[string]int{}
		obj := ast.NewObject()
		for i, k := range strings.Split(keys, "\x00") {
			if _, dup := want[k]; dup {
				continue
			}
			want[k] = i
			obj.Insert(ast.StringTerm(k), ast.IntNumberTerm(i))
		}
		s, err := Build(obj)
		if err != nil {
			t.Fatal(err)
		}
		_, hasTable := s.cells[s.Root()].table()
		if hasTable != (len(want) >= indexMin) {
			t.Fatalf("%d members: table %v", len(want), hasTable)
		}
		check := func(k string) {
			r, ok := s.Get(s.Root(), k)
			i, in := want[k]
			if ok != in || (ok && s.Text(r) != fmt.Sprint(i)) {
				t.Fatalf("Get(%q) = %v %v, want %v %v", k, r, ok, i, in)
			}
		}
		check(probe)
		for k := range want {
			check(k)
			check(k + "x")
			if k != "" {
				check(k[1:])
			}
		}
	})
}
