package decisionlog

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestMaskApply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		paths []string
		in    string
		want  string
	}{
		{"dotted path", []string{"context.ip"},
			`{"context":{"ip":"10.0.0.1","time":"now"}}`, `{"context":{"ip":"***","time":"now"}}`},
		{"json pointer", []string{"/context/ip"},
			`{"context":{"ip":"10.0.0.1","time":"now"}}`, `{"context":{"ip":"***","time":"now"}}`},
		{"opa-style input prefix", []string{"input.context.ip", "/input/subject/properties/email"},
			`{"context":{"ip":"1"},"subject":{"properties":{"email":"a@b"}}}`, `{"context":{"ip":"***"},"subject":{"properties":{"email":"***"}}}`},
		{"pointer escapes", []string{"/context/a~1b", "/context/c~0d"},
			`{"context":{"a/b":1,"c~d":2,"e":3}}`, `{"context":{"a/b":"***","c~d":"***","e":3}}`},
		{"whole object", []string{"resource.properties.collaborators"},
			`{"resource":{"properties":{"collaborators":["u1","u2"],"owner":"u3"}}}`, `{"resource":{"properties":{"collaborators":"***","owner":"u3"}}}`},
		{"through arrays", []string{"resource.properties.owners.email"},
			`{"resource":{"properties":{"owners":[{"id":"u1","email":"x"},{"id":"u2"},"plain"]}}}`, `{"resource":{"properties":{"owners":[{"id":"u1","email":"***"},{"id":"u2"},"plain"]}}}`},
		{"absent path unchanged", []string{"context.ip", "subject.properties.email"},
			`{"context":{"time":"now"}}`, `{"context":{"time":"now"}}`},
		{"null value masked", []string{"context.ip"},
			`{"context":{"ip":null}}`, `{"context":{"ip":"***"}}`},
		{"path into a scalar", []string{"context.ip.v4"},
			`{"context":{"ip":"10.0.0.1"}}`, `{"context":{"ip":"10.0.0.1"}}`},
		{"parent and child", []string{"context", "context.ip"},
			`{"context":{"ip":"1"},"x":1}`, `{"context":"***","x":1}`},
		{"spaces trimmed, empties skipped", []string{" context.ip ", ""},
			`{"context":{"ip":"1"}}`, `{"context":{"ip":"***"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree, _, err := parseMask(tc.paths)
			if err != nil {
				t.Fatal(err)
			}
			in := decode(t, tc.in)
			before := decode(t, tc.in)
			got := appendJSON(nil, in, tree)
			if !reflect.DeepEqual(decode(t, string(got)), decode(t, tc.want)) {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if !reflect.DeepEqual(in, before) {
				t.Errorf("the input was modified: %s", encode(t, in))
			}
		})
	}
}

// appendJSON must write what encoding/json writes (keys sorted) for the
// types decoded JSON holds.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"s":"plain","q":"quote \" backslash \\ nl \n tab \t cr \r nul \u0000 bell \u0007 <html> & é 日本 😀","n":null,"t":true,"f":false}`,
		`{"z":1,"a":[1,2.5,-3e10,{"b":[]},[]],"m":{},"e":"","big":12345678901234567890}`,
		`[{"k":"v"},"x",0,null]`,
		`"top"`,
	} {
		var v any
		dec := json.NewDecoder(strings.NewReader(in))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		var w strings.Builder
		je := json.NewEncoder(&w)
		je.SetEscapeHTML(false) // as zap's encoder
		_ = je.Encode(v)
		want := strings.TrimSuffix(w.String(), "\n")
		if got := appendJSON(nil, v, nil); string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		var plain any // float64 numbers
		_ = json.Unmarshal([]byte(in), &plain)
		got := appendJSON(nil, plain, nil)
		if !json.Valid(got) {
			t.Errorf("invalid JSON %s", got)
		}
	}
	if got := appendJSON(nil, "bad \xff utf8", nil); string(got) != "\"bad \ufffd utf8\"" {
		t.Errorf("invalid UTF-8: %s", got)
	}
	if got := appendJSON(nil, map[string]string{"b": "2", "a": "1"}, nil); string(got) != `{"a":"1","b":"2"}` {
		t.Errorf("map[string]string: %s", got)
	}
	if got := appendJSON(nil, struct{ A int }{1}, nil); string(got) != `{"A":1}` {
		t.Errorf("fallback: %s", got)
	}
}

func TestMaskCovers(t *testing.T) {
	tree, _, _ := parseMask([]string{"subject.id", "resource"})
	for _, tc := range []struct {
		keys []string
		want bool
	}{
		{[]string{"subject", "id"}, true},
		{[]string{"subject", "type"}, false},
		{[]string{"resource", "id"}, true},
		{[]string{"action", "name"}, false},
	} {
		if got := tree.covers(tc.keys...); got != tc.want {
			t.Errorf("covers(%v) = %v, want %v", tc.keys, got, tc.want)
		}
	}
}

func TestMaskMalformed(t *testing.T) {
	_, _, err := parseMask([]string{"context..ip", "/", "input", "ok.path", "a."})
	if err == nil {
		t.Fatal("no error")
	}
	for _, p := range []string{`"context..ip"`, `"/"`, `"input"`, `"a."`} {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %s", err, p)
		}
	}
	if strings.Contains(err.Error(), "ok.path") {
		t.Errorf("error %q names a good path", err)
	}
	if _, err := New(Config{Destination: Off, Mask: []string{"a..b"}}); err == nil {
		t.Error("New accepted a malformed mask path")
	}
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func encode(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
