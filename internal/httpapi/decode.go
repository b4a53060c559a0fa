package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/pdp-sidecar/pdp/internal/engine"
)

// readObject reads a request body that must be one JSON object.
func readObject(c *gin.Context) (map[string]any, error) {
	body, err := readJSON(c, false)
	if err != nil {
		return nil, err
	}
	return object(body, "request body")
}

// readJSON reads the request body as one JSON value (numbers as
// json.Number). The body limit is enforced by middleware.
func readJSON(c *gin.Context, allowEmpty bool) (any, error) {
	bp, err := readBody(c, allowEmpty)
	if err != nil || bp == nil {
		return nil, err
	}
	defer putBuf(bp)
	return decodeJSON(*bp)
}

// readBody reads a JSON request body into a pooled buffer, which the caller
// gives back with putBuf once it has parsed it (what the parsers return
// holds copies, nothing of the buffer). The Content-Type must be JSON's,
// the body valid UTF-8 and, unless allowEmpty, not blank (a blank body
// allowed is nil).
func readBody(c *gin.Context, allowEmpty bool) (*[]byte, error) {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !hasJSONSuffix(mt)) {
			return nil, &apiError{http.StatusUnsupportedMediaType, codeUnsupportedMedia, fmt.Sprintf("Content-Type %q is not supported: send application/json", ct)}
		}
	}
	bp := getBuf()
	body, err := readAll(c.Request.Body, *bp)
	*bp = body
	if err != nil {
		putBuf(bp)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("request body is larger than the %d-byte limit", mbe.Limit)}
		}
		return nil, badRequest("reading request body: " + err.Error())
	}
	if len(bytes.TrimSpace(body)) == 0 {
		putBuf(bp)
		if allowEmpty {
			return nil, nil
		}
		return nil, badRequest("request body is empty: send a JSON object")
	}
	if !utf8.Valid(body) {
		putBuf(bp)
		return nil, badRequest("request body is not valid UTF-8")
	}
	return bp, nil
}

// readAll is io.ReadAll appending to b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// decodeJSON parses a body readBody returned.
func decodeJSON(body []byte) (any, error) {
	v, exponent, err := parseJSONExponents(body)
	if err != nil {
		return nil, badRequest("request body is not valid JSON: " + err.Error())
	}
	if !exponent {
		return v, nil
	}
	if path, err := badNumber(v); err != nil {
		field := strings.TrimPrefix(path, ".")
		if field == "" {
			field = "request body"
		}
		return nil, badRequest(fmt.Sprintf("%s: %v (OPA cannot evaluate numbers this large or small)", field, err))
	}
	return v, nil
}

// badNumber finds a number OPA refuses (an exponent beyond its bounds, such
// as 1e999999999) and returns where it is; parseJSON has already bounded
// the depth. Without this such a body would not be refused as malformed
// but fail later, inside the engine.
func badNumber(v any) (string, error) {
	switch x := v.(type) {
	case json.Number:
		_, err := ast.NumberChecked(string(x))
		return "", err
	case map[string]any:
		for k, e := range x {
			if p, err := badNumber(e); err != nil {
				return "." + k + p, err
			}
		}
	case []any:
		for i, e := range x {
			if p, err := badNumber(e); err != nil {
				return "[" + strconv.Itoa(i) + "]" + p, err
			}
		}
	}
	return "", nil
}

func hasJSONSuffix(mt string) bool {
	return len(mt) > 5 && mt[len(mt)-5:] == "+json"
}

// object reads v as a JSON object, named field in messages.
func object(v any, field string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest(fmt.Sprintf("%s must be an object, got %s", field, jsonType(v)))
	}
	return m, nil
}

// optObject reads an optional object member: absent or null gives nil.
func optObject(m map[string]any, key, field string) (map[string]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	return object(v, field)
}

// str reads a required non-empty string member.
func str(m map[string]any, key, field string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", badRequest(field + " is required")
	}
	s, ok := v.(string)
	if !ok {
		return "", badRequest(fmt.Sprintf("%s must be a string, got %s", field, jsonType(v)))
	}
	if s == "" {
		return "", badRequest(field + " must not be empty")
	}
	return s, nil
}

// entity reads a subject or resource; when needID is false the id may be absent.
func entity(v any, field string, needID bool) (engine.Entity, error) {
	var e engine.Entity
	if v == nil {
		return e, badRequest(field + " is required")
	}
	m, err := object(v, field)
	if err != nil {
		return e, err
	}
	if e.Type, err = str(m, "type", field+".type"); err != nil {
		return e, err
	}
	if needID || m["id"] != nil {
		if e.ID, err = str(m, "id", field+".id"); err != nil {
			return e, err
		}
	}
	e.Properties, err = optObject(m, "properties", field+".properties")
	return e, err
}

// action reads {"name": ..., "properties"?: {...}}.
func action(v any, field string) (string, map[string]any, error) {
	if v == nil {
		return "", nil, badRequest(field + " is required")
	}
	m, err := object(v, field)
	if err != nil {
		return "", nil, err
	}
	name, err := str(m, "name", field+".name")
	if err != nil {
		return "", nil, err
	}
	props, err := optObject(m, "properties", field+".properties")
	return name, props, err
}

// parts is an AuthZEN request's four members before validation; batch
// items override the defaults member by member.
type parts struct {
	subject, action, resource, context any
}

func partsOf(m map[string]any) parts {
	return parts{m["subject"], m["action"], m["resource"], m["context"]}
}

func (p parts) override(item map[string]any) parts {
	for key, dst := range map[string]*any{"subject": &p.subject, "action": &p.action, "resource": &p.resource, "context": &p.context} {
		if v, ok := item[key]; ok && v != nil {
			*dst = v
		}
	}
	return p
}

// evaluation validates p as an access evaluation request; prefix names the
// place in the body (e.g. "evaluations[3].") in messages.
func (p parts) evaluation(prefix string) (engine.Request, error) {
	var r engine.Request
	var err error
	if r.Subject, err = entity(p.subject, prefix+"subject", true); err != nil {
		return r, err
	}
	if r.Action, r.ActionProperties, err = action(p.action, prefix+"action"); err != nil {
		return r, err
	}
	if r.Resource, err = entity(p.resource, prefix+"resource", true); err != nil {
		return r, err
	}
	if p.context != nil {
		if r.Context, err = object(p.context, prefix+"context"); err != nil {
			return r, err
		}
	}
	return r, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}
