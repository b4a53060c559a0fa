package httpapi

import (
	"bytes"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/pdp-sidecar/pdp/internal/engine"
)

// generalEvaluation is the general path of POST /access/v1/evaluation for a
// body readBody accepted.
func generalEvaluation(body []byte) (engine.Request, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return engine.Request{}, err
	}
	m, err := object(v, "request body")
	if err != nil {
		return engine.Request{}, err
	}
	return partsOf(m).evaluation("")
}

// agree fails t when the fast path accepts body and the general path
// refuses it or reads another request. It reports whether the fast path
// took the body.
func agree(t *testing.T, body []byte) bool {
	t.Helper()
	if !utf8.Valid(body) || len(bytes.TrimSpace(body)) == 0 {
		return false // readBody refuses these before either path
	}
	fast, ok := parseEvaluation(body)
	slow, err := generalEvaluation(body)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("the fast path accepted %q, which the general path refuses: %v", body, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("body %q:\nfast path %#v\ngeneral   %#v", body, fast, slow)
	}
	return true
}

var evaluationBodies = []struct {
	body string
	fast bool // the fast path takes it
}{
	{`{"subject":{"type":"user","id":"alice"},"action":{"name":"document.view"},"resource":{"type":"document","id":"d1","properties":{"account":"a1","workspace":"w1","owner":"bob"}}}`, true},
	{` { "subject" : { "type" : "user" , "id" : "a\u00e9\n" } , "action" : { "name" : "x" , "properties" : { "n" : 1.5 , "l" : [ 1 , null , true , { } ] } } , "resource" : { "id" : "r" , "type" : "t" , "properties" : null } , "context" : { "ip" : "::1" } } `, true},
	{`{"context":null,"resource":{"type":"t","id":"r","extra":[1,2]},"action":{"name":"a","also":{}},"subject":{"type":"u","id":"s","properties":{}},"unused":{"x":[]}}`, true},
	{`{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"r"},"context":{}}`, true},
	// Each of these is left to the general path (an error, or a body the
	// fast path does not read).
	{`{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"r","properties":{"n":1e3}}}`, false},
	{`{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"r","properties":{"n":1e999999999}}}`, false},
	{`{"subject":{"type":"user","id":"a"},"subject":{"type":"user","id":"b"},"action":{"name":"x"},"resource":{"type":"t","id":"r"}}`, false},
	{`{"x":1,"x":2,"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"r"}}`, false},
	{`{"subject":{"type":"user","id":"a","id":"b"},"action":{"name":"x"},"resource":{"type":"t","id":"r"}}`, false},
	{`{"subject":{"type":"user","id":""},"action":{"name":"x"},"resource":{"type":"t","id":"r"}}`, false},
	{`{"subject":{"type":"user"},"action":{"name":"x"},"resource":{"type":"t","id":"r"}}`, false},
	{`{"subject":{"type":"user","id":null},"action":{"name":"x"},"resource":{"type":"t","id":"r"}}`, false},
	{`{"subject":{"type":"user","id":7},"action":{"name":"x"},"resource":{"type":"t","id":"r"}}`, false},
	{`{"subject":null,"action":{"name":"x"},"resource":{"type":"t","id":"r"}}`, false},
	{`{"action":{"name":"x"},"resource":{"type":"t","id":"r"}}`, false},
	{`{"subject":{"type":"user","id":"a"},"action":"x","resource":{"type":"t","id":"r"}}`, false},
	{`{"subject":{"type":"user","id":"a"},"action":{"name":"x","properties":[]},"resource":{"type":"t","id":"r"}}`, false},
	{`{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"r"},"context":[]}`, false},
	{`{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"r"}} x`, false},
	{`{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"r"}`, false},
	{`{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"r","properties":{"k":"v","k":"w"}}}`, false},
	{`{"subject":{"type":"user","id":"a"},"action":{"name":"x"},"resource":{"type":"t","id":"r","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7}}`, false},
	{`[{"subject":{"type":"user","id":"a"}}]`, false},
	{`"subject"`, false},
}

// TestParseEvaluation: the fast path reads the usual bodies, as the general
// path reads them, and leaves the others to it.
func TestParseEvaluation(t *testing.T) {
	for _, c := range evaluationBodies {
		if got := agree(t, []byte(c.body)); got != c.fast {
			_, err := generalEvaluation([]byte(c.body))
			t.Errorf("fast path took %q: %v, want %v (the general path says %v)", c.body, got, c.fast, err)
		}
	}
}

// FuzzParseEvaluation: whatever the body, the fast path either declines it
// or reads the request the general path reads.
func FuzzParseEvaluation(f *testing.F) {
	for _, c := range evaluationBodies {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		agree(t, body)
	})
}
