package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// The hand-written evaluation response is what encoding/json writes for
// the same value: byte for byte where encoding/json writes no \u escape,
// and the same JSON value always.
func TestEvaluationResponseJSON(t *testing.T) {
	ctxs := []*evaluationContext{
		nil,
		{},
		{DecisionID: "d1"},
		{Revision: "r1"},
		{Reasons: []string{}},
		{Reasons: []string{"one"}},
		{DecisionID: "d1", Revision: "r1", Reasons: []string{"a", `q"uote\`, "new\nline"}},
		{Error: &errorDetail{Code: "timeout", Message: "decision timed out"}},
		{DecisionID: "d", Reasons: []string{"x"}, Error: &errorDetail{Code: "c", Message: "m"}},
		{Reasons: []string{"<html> & \u2028", "bad \xff"}},
	}
	for _, allow := range []bool{false, true} {
		for _, c := range ctxs {
			r := evaluationResponse{Decision: allow, Context: c}
			want, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			got := r.appendJSON(nil)
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("%+v: %s is not JSON: %v", c, got, err)
			}
			_ = json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("%+v:\n got %s\nwant %s", c, got, want)
			}
			if !bytes.Contains(want, []byte(`\u`)) && !bytes.Equal(got, want) {
				t.Errorf("%+v: bytes differ:\n got %s\nwant %s", c, got, want)
			}
		}
	}
}
