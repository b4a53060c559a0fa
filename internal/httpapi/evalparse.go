package httpapi

import (
	"slices"

	"github.com/pdp-sidecar/pdp/internal/engine"
)

// parseEvaluation reads a valid single access evaluation request straight
// into an engine.Request, without building maps for the body, its subject,
// action and resource (they were a quarter of the bytes pdp allocated for a
// decision). Only properties and context become maps, as the engine takes
// them.
//
// It is a fast path only: it accepts a subset of the bodies the general
// path (parseJSONExponents, then partsOf(...).evaluation) accepts and, for
// those, yields exactly the same Request. Whenever it meets anything else —
// a syntax error, a repeated key, a missing, null or mistyped member, an
// empty string, a number with an exponent (which the general path checks
// against OPA's bounds) — it gives up (ok == false), and the caller parses
// the body again the general way, which gives the request or the precise
// error. FuzzParseEvaluation holds the two paths to agreement.
func parseEvaluation(b []byte) (r engine.Request, ok bool) {
	p := &jsonParser{b: b}
	var seen [3]bool // subject, action, resource
	ok = p.members(0, func(key string) bool {
		switch key {
		case "subject":
			seen[0] = true
			return p.entity(&r.Subject)
		case "action":
			seen[1] = true
			return p.action(&r)
		case "resource":
			seen[2] = true
			return p.entity(&r.Resource)
		case "context":
			v, err := p.value(1)
			if err != nil {
				return false
			}
			m, isObject := v.(map[string]any)
			r.Context = m
			return v == nil || isObject
		}
		_, err := p.value(1) // a member the request does not use
		return err == nil
	})
	p.space()
	if !ok || p.i != len(p.b) || !seen[0] || !seen[1] || !seen[2] || p.exponent {
		return engine.Request{}, false
	}
	return r, true
}

// members reads an object at depth, calling member for each key with the
// parser at the key's value; member reads the value. False on anything but
// a well-formed object of at most 8 distinct keys whose every member
// returned true.
func (p *jsonParser) members(depth int, member func(key string) bool) bool {
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '{' || depth >= maxJSONDepth {
		return false
	}
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return true
	}
	var keys [8]string // a repeated key is an error of the general path
	for n := 0; ; n++ {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' || n == len(keys) {
			return false
		}
		k, err := p.str()
		if err != nil || slices.Contains(keys[:n], k) {
			return false
		}
		keys[n] = k
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		p.space()
		if !member(k) {
			return false
		}
		p.space()
		if p.i >= len(p.b) {
			return false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

// entity reads a subject or resource with a type and an id.
func (p *jsonParser) entity(e *engine.Entity) bool {
	var seen [3]bool // type, id, properties
	ok := p.members(1, func(key string) bool {
		switch key {
		case "type":
			seen[0] = true
			return p.nonEmpty(&e.Type)
		case "id":
			seen[1] = true
			return p.nonEmpty(&e.ID)
		case "properties":
			seen[2] = true
			return p.properties(&e.Properties)
		}
		_, err := p.value(2)
		return err == nil
	})
	return ok && seen[0] && seen[1]
}

// action reads {"name": ..., "properties"?: {...}}.
func (p *jsonParser) action(r *engine.Request) bool {
	var seen [2]bool // name, properties
	ok := p.members(1, func(key string) bool {
		switch key {
		case "name":
			seen[0] = true
			return p.nonEmpty(&r.Action)
		case "properties":
			seen[1] = true
			return p.properties(&r.ActionProperties)
		}
		_, err := p.value(2)
		return err == nil
	})
	return ok && seen[0]
}

// nonEmpty reads a string that is not empty.
func (p *jsonParser) nonEmpty(dst *string) bool {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return false
	}
	s, err := p.str()
	if err != nil || s == "" {
		return false
	}
	*dst = s
	return true
}

// properties reads an object, or null (nil).
func (p *jsonParser) properties(dst *map[string]any) bool {
	v, err := p.value(2)
	if err != nil {
		return false
	}
	if v == nil {
		return true
	}
	m, ok := v.(map[string]any)
	*dst = m
	return ok
}
