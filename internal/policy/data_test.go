package policy

import (
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestDataFilesMerge: files land at their paths (folder, then the file's
// name unless it is data), objects from several files merge key by key
// at any depth, in JSON and YAML, and what cannot merge is an error
// naming both files.
func TestDataFilesMerge(t *testing.T) {
	files := []File{
		{Path: "data.json", Raw: []byte(`{"a": {"y": true, "o": {"r": [1, "2"]}}, "top": null}`)},
		{Path: "a.json", Raw: []byte(`{"o": {"q": 2}, "big": 1e3}`)},
		{Path: "a/data.json", Raw: []byte(`{"x": 1, "o": {"p": {"deep": "\u00fcber"}}}`)},
		{Path: "a/o/s.yaml", Raw: []byte("k: v\nlist: [1, two]\n")},
		{Path: "b/c/d.json", Raw: []byte(`{}`)},
	}
	doc, err := loadData(files)
	if err != nil {
		t.Fatal(err)
	}
	want := ast.MustParseTerm(`{
		"a": {"y": true, "x": 1, "big": 1e3,
		      "o": {"r": [1, "2"], "q": 2, "p": {"deep": "über"}, "s": {"k": "v", "list": [1, "two"]}}},
		"top": null,
		"b": {"c": {"d": {}}}
	}`).Value
	if got := doc.Value(doc.Root()); ast.Compare(got, want) != 0 {
		t.Fatalf("merged data:\n%v\nwant\n%v", got, want)
	}

	for _, tc := range []struct {
		name  string
		files []File
		want  string
	}{
		{"a key set twice", []File{
			{Path: "a/data.json", Raw: []byte(`{"x": 1}`)},
			{Path: "a.json", Raw: []byte(`{"x": 2}`)},
		}, "a.json: data.a.x is also set by a/data.json"},
		{"an object over a scalar", []File{
			{Path: "a.json", Raw: []byte(`{"x": 1}`)},
			{Path: "a/x/data.json", Raw: []byte(`{"y": 1}`)},
		}, "a/x/data.json: data.a.x is already set to a non-object by a.json"},
		{"a scalar over an object", []File{
			{Path: "data.json", Raw: []byte(`{"a": {"x": {"y": 1}}}`)},
			{Path: "a.json", Raw: []byte(`{"x": 5}`)},
		}, "a.json: data.a.x is also set by data.json"},
		{"not an object", []File{{Path: "a.json", Raw: []byte(`[1]`)}}, "a.json: top level must be an object, got array"},
		{"a syntax error", []File{{Path: "a.json", Raw: []byte("{\n  \"x\": 1,\n}")}}, "a.json: line 3, column 2"},
		{"a duplicate key (the last kept, as encoding/json does)", []File{
			{Path: "a.json", Raw: []byte(`{"x": 1, "x": 2}`)},
			{Path: "b.json", Raw: []byte(`{"x": 1, "x": 2}`)},
			{Path: "b/data.json", Raw: []byte(`{"x": 3}`)},
		}, "b/data.json: data.b.x is also set by b.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadData(tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// The duplicate key's document itself: the last value.
	doc, err = loadData([]File{{Path: "a.json", Raw: []byte(`{"x": 1, "x": {"y": 2}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := doc.Value(doc.Root()), ast.MustParseTerm(`{"a": {"x": {"y": 2}}}`).Value; ast.Compare(got, want) != 0 {
		t.Fatalf("duplicate key: %v, want %v", got, want)
	}
}
