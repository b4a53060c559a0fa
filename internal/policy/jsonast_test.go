package policy

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// slowValue is what the fast path must agree with: encoding/json (with
// UseNumber, one document, nothing after it) then ast.InterfaceToValue.
func slowValue(raw []byte) (ast.Value, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil || err.Error() != "EOF" {
		return nil, false
	}
	val, err := ast.InterfaceToValue(v)
	if err != nil {
		return nil, false
	}
	return val, true
}

// checkASTDecoder fails when the fast path accepts raw but encoding/json
// does not, or decodes it to a different value.
func checkASTDecoder(t *testing.T, dec *astDecoder, raw []byte) (accepted bool) {
	t.Helper()
	got, ok := dec.decode(raw)
	if !ok {
		return false
	}
	want, wantOK := slowValue(raw)
	if !wantOK {
		t.Fatalf("fast path accepts %q, encoding/json does not", raw)
	}
	if got.Compare(want) != 0 {
		t.Fatalf("decode(%q) = %v, want %v", raw, got, want)
	}
	return true
}

func TestASTDecoder(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		fast bool // whether the fast path decodes it (else encoding/json must)
	}{
		{"empty object", `{}`, true},
		{"account", `{"owner": "alice", "users": {"alice": {"email": "a@x.test"}, "bob": {}},
			"role_groups": {"it": {"permissions": ["logs", "billing"], "members": ["bob"]}}}`, true},
		{"scalars", ` [true, false, null, 0, -0, 1.5, -2e10, 3E+2, 4e-1, 123456789012345678901234567890, ""] `, true},
		{"nested", `{"a": [[], {}, [{"b": [1]}]]}`, true},
		{"shared keys and values", `[{"k": "member"}, {"k": "member"}, {"member": "k"}]`, true},
		{"escapes", `{"a\"b": "line\nbreak \u00e9 \ud83d\ude00"}`, true},
		{"non-ASCII", `{"é": "ünïcode"}`, true},
		{"invalid UTF-8", "{\"a\": \"\xff\"}", true},
		{"duplicate key", `{"a": 1, "a": 2}`, false},
		{"duplicate key in a large object", `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"a":10}`, false},
		{"trailing comma", `{"a": 1,}`, false},
		{"leading zero", `[01]`, false},
		{"bare minus", `[-]`, false},
		{"fraction without digits", `[1.]`, false},
		{"exponent without digits", `[1e]`, false},
		{"unterminated string", `{"a": "b`, false},
		{"control character in string", "[\"a\tb\"]", false},
		{"bad escape", `["\x"]`, false},
		{"truncated literal", `[tru]`, false},
		{"literal with suffix", `[truex]`, false},
		{"two documents", `{} {}`, false},
		{"content after the document", `{} x`, false},
		{"byte order mark", "\xef\xbb\xbf{}", false},
		{"empty input", ``, false},
		{"missing colon", `{"a" 1}`, false},
		{"single quotes", `{'a': 1}`, false},
	}
	dec := newASTDecoder()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkASTDecoder(t, dec, []byte(tc.raw)); got != tc.fast {
				t.Errorf("fast path accepted %q: %v, want %v", tc.raw, got, tc.fast)
			}
		})
	}
}

func FuzzASTDecoder(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"a": [1, -2.5e3, true, null, "x\u0041"]}`, `{"a": 1, "a": 2}`, `[01]`, `{"é": "\ud800"}`,
		`{"owner": "alice", "users": {"alice": {"email": "a@x.test"}}}`,
	} {
		f.Add([]byte(seed))
	}
	dec := newASTDecoder()
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkASTDecoder(t, dec, raw)
	})
}
