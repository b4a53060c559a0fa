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

// decodeData parses one JSON or YAML data file into an AST object (numbers
// kept as written, as json.Number does). The top level must be an object.
// dec is the calling goroutine's decoder; anything its fast path declines
// goes through encoding/json, which also words every syntax error.
func decodeData(dec *astDecoder, f File) (ast.Object, error) {
	raw := f.Raw
	if ext := path.Ext(f.Path); ext == ".yaml" || ext == ".yml" {
		j, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f.Path, err)
		}
		raw = j
	}
	if v, ok := dec.decode(raw); ok {
		if obj, ok := v.(ast.Object); ok {
			return obj, nil
		}
	}
	return decodeDataSlow(f.Path, raw)
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

// tree is the data document while files are merged into it: the folders
// of their paths and the top-level keys of every file are tree nodes, all
// below is AST as decoded. A *ast.Term holding an object becomes a tree
// node only when a second file merges into it.
type tree map[string]any // values: tree or *ast.Term

// mergeData places doc at keys below root. Objects merge key by key; any
// other collision is an error naming both files.
func mergeData(root tree, keys []string, doc ast.Object, file string, owners map[string]string) error {
	node := root
	for i, k := range keys {
		next, exists := node[k]
		if !exists {
			m := tree{}
			node[k] = m
			node = m
			owners[strings.Join(keys[:i+1], ".")] = file
			continue
		}
		m, ok := asTree(next)
		if !ok {
			return fmt.Errorf("%s: data.%s is already set to a non-object by %s", file, strings.Join(keys[:i+1], "."), owners[strings.Join(keys[:i+1], ".")])
		}
		node[k] = m
		node = m
	}
	return mergeObjects(node, doc, keys, file, owners)
}

func mergeObjects(dst tree, src ast.Object, at []string, file string, owners map[string]string) error {
	return src.Iter(func(kt, v *ast.Term) error {
		k := string(kt.Value.(ast.String))
		p := append(append([]string{}, at...), k)
		key := strings.Join(p, ".")
		old, exists := dst[k]
		if !exists {
			dst[k] = v
			owners[key] = file
			return nil
		}
		om, ok1 := asTree(old)
		nm, ok2 := v.Value.(ast.Object)
		if !ok1 || !ok2 {
			return fmt.Errorf("%s: data.%s is also set by %s", file, key, owners[key])
		}
		dst[k] = om
		return mergeObjects(om, nm, p, file, owners)
	})
}

// asTree returns v as a tree node, turning an AST object into one.
func asTree(v any) (tree, bool) {
	switch v := v.(type) {
	case tree:
		return v, true
	case *ast.Term:
		obj, ok := v.Value.(ast.Object)
		if !ok {
			return nil, false
		}
		t := make(tree, obj.Len())
		obj.Foreach(func(k, v *ast.Term) { t[string(k.Value.(ast.String))] = v })
		return t, true
	}
	return nil, false
}

// object turns the tree into the AST object it stands for.
func (t tree) object() ast.Object {
	items := make([][2]*ast.Term, 0, len(t))
	for k, v := range t {
		switch v := v.(type) {
		case tree:
			items = append(items, [2]*ast.Term{ast.StringTerm(k), ast.NewTerm(v.object())})
		case *ast.Term:
			items = append(items, [2]*ast.Term{ast.StringTerm(k), v})
		}
	}
	return ast.NewObject(items...)
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
