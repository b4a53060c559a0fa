package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseJSON(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	for _, tc := range []struct {
		in, err string
	}{
		{`{"a": [1, -2.5e3, "x\u00e9\ud83d\ude00", true, false, null, {}]}`, ""},
		{`{"a":1,"a":2}`, `duplicate key "a" (line 1, column 8)`},
		{`{"s":{"id":"x","id":"y"}}`, `duplicate key "id" in s (line 1, column 16)`},
		{deep, "JSON nested deeper than 64 levels"},
		{`{"a":1} x`, "unexpected content after the JSON value"},
		{`{"a":01}`, "expected ',' or '}'"},
		{`{"a":1.}`, "digits expected after '.'"},
		{"{\"a\":\"\x01\"}", "control character in string"},
		{`{"a":"\q"}`, `invalid escape '\q'`},
		{`{"a":` + strings.Repeat("9", 100) + `}`, "number longer than 64 characters"},
		{`{"a":[1,2}`, "expected ',' or ']'"},
		{`{"a"`, "expected ':'"},
		{``, "unexpected end of JSON input"},
		{`tru`, "invalid character 't'"},
	} {
		_, err := parseJSON([]byte(tc.in))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%.40q: %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%.40q: error %v, want %q", tc.in, err, tc.err)
		}
	}
}

// FuzzParseJSON checks parseJSON against encoding/json: whatever one
// accepts the other accepts with the same value, except for what
// parseJSON refuses on purpose (duplicate keys, deep nesting, long numbers).
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"b",{"c":null}]}`, `"\ud800\u0041"`, `-0.0e+1`, `{"a":1,"a":1}`, `[[[]]]`, `"\u00"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return
		}
		got, err := parseJSON(b)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want any
		stdErr := dec.Decode(&want)
		if stdErr == nil {
			if _, e := dec.Token(); e != io.EOF {
				stdErr = errTrailing
			}
		}
		if err != nil {
			msg := err.Error()
			if stdErr == nil && !strings.Contains(msg, "duplicate key") && !strings.Contains(msg, "nested deeper") && !strings.Contains(msg, "number longer") {
				t.Fatalf("parseJSON refused %q (%v); encoding/json accepted it", b, err)
			}
			return
		}
		if stdErr != nil {
			t.Fatalf("parseJSON accepted %q; encoding/json: %v", b, stdErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: parseJSON %#v, encoding/json %#v", b, got, want)
		}
	})
}

var errTrailing = &jsonError{msg: "trailing"}
