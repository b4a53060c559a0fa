package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"sigs.k8s.io/yaml"

	"github.com/pdp-sidecar/pdp/internal/docstore"
)

// dataPath is where a data file's document is placed under data: the path of
// its folder, plus the file's name without extension unless that name is
// "data" (OPA's bundle convention). So accounts/acme.json and
// accounts/acme/data.json both land at data.accounts.acme (spec/data.md).
func dataPath(file string) []string {
	dir, name := path.Split(file)
	var keys []string
	for _, k := range strings.Split(strings.Trim(dir, "/"), "/") {
		if k != "" && k != "." {
			keys = append(keys, k)
		}
	}
	if stem := strings.TrimSuffix(name, path.Ext(name)); stem != "data" {
		keys = append(keys, stem)
	}
	return keys
}

// decodeData parses one JSON or YAML data file into a Store of its own
// (numbers kept as written, as json.Number does). The top level must be
// an object. dec is the calling goroutine's decoder; anything its fast path
// declines goes through encoding/json, which also words every syntax error.
func decodeData(dec *docstore.Decoder, f File) (*docstore.Store, error) {
	raw := f.Raw
	if ext := path.Ext(f.Path); ext == ".yaml" || ext == ".yml" {
		j, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f.Path, err)
		}
		raw = j
	}
	if s, ok := dec.Decode(raw); ok && s.Kind(s.Root()) == docstore.Object {
		return s, nil
	}
	obj, err := decodeDataSlow(f.Path, raw)
	if err != nil {
		return nil, err
	}
	s, err := docstore.Build(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", f.Path, err)
	}
	return s, nil
}

// decodeDataSlow is decodeData through encoding/json and
// ast.InterfaceToValue.
func decodeDataSlow(file string, raw []byte) (ast.Object, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %s", file, jsonError(raw, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: unexpected content after the JSON document", file)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("%s: top level must be an object, got %s", file, typeName(v))
	}
	val, err := ast.InterfaceToValue(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return val.(ast.Object), nil
}

// jsonError adds the line and column to a JSON syntax error.
func jsonError(raw []byte, err error) string {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		off = int64(len(raw))
	}
	if off < 0 {
		return err.Error()
	}
	if off > int64(len(raw)) {
		off = int64(len(raw))
	}
	before := raw[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// mergeData places doc (a file's top-level object) at keys below root,
// the data document while files are merged into it: the folders of their
// paths and the top-level keys of every file are Tree nodes, all below is
// a Sub of the file's Store. An object of a file becomes a Tree node only
// when a second file merges into it. Objects merge key by key; any other
// collision is an error naming both files.
func mergeData(root docstore.Tree, keys []string, doc docstore.Sub, file string, owners map[string]string) error {
	node := root
	for i, k := range keys {
		next, exists := node[k]
		if !exists {
			m := docstore.Tree{}
			node[k] = m
			node = m
			owners[strings.Join(keys[:i+1], ".")] = file
			continue
		}
		m, ok := asTree(next)
		if !ok {
			return fmt.Errorf("%s: data.%s is already set to a non-object by %s", file, strings.Join(keys[:i+1], "."), ownerOf(owners, keys[:i+1]))
		}
		node[k] = m
		node = m
	}
	return mergeObjects(node, doc, keys, file, owners)
}

// mergeObjects merges object src into dst, key by key in key order.
func mergeObjects(dst docstore.Tree, src docstore.Sub, at []string, file string, owners map[string]string) error {
	for i := range src.S.Len(src.R) {
		k, r := src.S.Member(src.R, i)
		v := docstore.Sub{S: src.S, R: r}
		p := append(append([]string{}, at...), k)
		key := strings.Join(p, ".")
		old, exists := dst[k]
		if !exists {
			dst[k] = v
			owners[key] = file
			continue
		}
		om, ok := asTree(old)
		if !ok || v.S.Kind(v.R) != docstore.Object {
			return fmt.Errorf("%s: data.%s is also set by %s", file, key, ownerOf(owners, p))
		}
		dst[k] = om
		if err := mergeObjects(om, v, p, file, owners); err != nil {
			return err
		}
	}
	return nil
}

// ownerOf is the file that set data.<keys>: the one recorded for it, or
// for the nearest object above it that a file set whole (its members are
// recorded only once another file merges into them).
func ownerOf(owners map[string]string, keys []string) string {
	for n := len(keys); n > 0; n-- {
		if f, ok := owners[strings.Join(keys[:n], ".")]; ok {
			return f
		}
	}
	return "another file"
}

// asTree returns v as a Tree node, turning an object of a Store into one.
func asTree(v any) (docstore.Tree, bool) {
	switch v := v.(type) {
	case docstore.Tree:
		return v, true
	case docstore.Sub:
		if v.S.Kind(v.R) != docstore.Object {
			return nil, false
		}
		t := make(docstore.Tree, v.S.Len(v.R))
		for i := range v.S.Len(v.R) {
			k, r := v.S.Member(v.R, i)
			t[k] = docstore.Sub{S: v.S, R: r}
		}
		return t, true
	}
	return nil, false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}
