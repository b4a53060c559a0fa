package httpapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting in request bodies: AuthZEN requests are
// shallow, and deep nesting is a cheap way to burn CPU and stack.
const maxJSONDepth = 64

// jsonError is a syntax problem in a request body.
type jsonError struct {
	msg string
	off int
}

func (e *jsonError) Error() string { return e.msg }

// parseJSON decodes one JSON value from b into map[string]any, []any,
// string, json.Number, bool and nil, like encoding/json with UseNumber, but
// stricter: a key repeated in one object, nesting deeper than
// maxJSONDepth, or anything after the value is an error. (encoding/json
// keeps the last duplicate silently, so two readers of the same body could
// disagree about what it says.) b must be valid UTF-8.
func parseJSON(b []byte) (any, error) {
	v, _, err := parseJSONExponents(b)
	return v, err
}

// parseJSONExponents is parseJSON that also says whether some number of b
// has an exponent: only such a number can be one OPA refuses (badNumber).
func parseJSONExponents(b []byte) (v any, exponent bool, err error) {
	p := &jsonParser{b: b}
	p.space()
	if v, err = p.value(0); err != nil {
		return nil, false, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, false, p.fail("unexpected content after the JSON value")
	}
	return v, p.exponent, nil
}

type jsonParser struct {
	b        []byte
	i        int
	path     []pathElem // keys and indexes leading to the current value, for messages
	exponent bool       // a number had an exponent
}

// pathElem is an object key or an array index; written out only when a
// message needs it, so that parsing a valid body formats nothing.
type pathElem struct {
	key   string
	index int // an array index, when isIdx
	isIdx bool
}

func (p *jsonParser) where() string {
	var b strings.Builder
	for i, e := range p.path {
		switch {
		case e.isIdx:
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
		case i == 0:
			b.WriteString(e.key)
		default:
			b.WriteString("." + e.key)
		}
	}
	return b.String()
}

func (p *jsonParser) fail(format string, a ...any) error {
	line, col := 1, 1
	for _, c := range p.b[:min(p.i, len(p.b))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	where := ""
	if len(p.path) > 0 {
		where = " in " + p.where()
	}
	return &jsonError{msg: fmt.Sprintf("%s%s (line %d, column %d)", fmt.Sprintf(format, a...), where, line, col), off: p.i}
}

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, error) {
	if p.i >= len(p.b) {
		return nil, p.fail("unexpected end of JSON input")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		if depth >= maxJSONDepth {
			return nil, p.fail("JSON nested deeper than %d levels", maxJSONDepth)
		}
		return p.object(depth + 1)
	case c == '[':
		if depth >= maxJSONDepth {
			return nil, p.fail("JSON nested deeper than %d levels", maxJSONDepth)
		}
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case p.literal("true"):
		return true, nil
	case p.literal("false"):
		return false, nil
	case p.literal("null"):
		return nil, nil
	default:
		return nil, p.fail("invalid character %q looking for a value", rune(c))
	}
}

func (p *jsonParser) literal(word string) bool {
	if strings.HasPrefix(string(p.b[p.i:min(p.i+len(word), len(p.b))]), word) {
		p.i += len(word)
		return true
	}
	return false
}

func (p *jsonParser) object(depth int) (any, error) {
	p.i++ // {
	m := map[string]any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("expected a string key")
		}
		keyAt := p.i
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			p.i = keyAt
			return nil, p.fail("duplicate key %q", k)
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("expected ':' after key %q", k)
		}
		p.i++
		p.space()
		p.path = append(p.path, pathElem{key: k})
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		m[k] = v
		p.space()
		if p.i >= len(p.b) {
			return nil, p.fail("unexpected end of JSON input in an object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, nil
		default:
			return nil, p.fail("expected ',' or '}' after an object member")
		}
	}
}

func (p *jsonParser) array(depth int) (any, error) {
	p.i++ // [
	a := []any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		p.space()
		p.path = append(p.path, pathElem{index: len(a), isIdx: true})
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		a = append(a, v)
		p.space()
		if p.i >= len(p.b) {
			return nil, p.fail("unexpected end of JSON input in an array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, nil
		default:
			return nil, p.fail("expected ',' or ']' after an array element")
		}
	}
}

func (p *jsonParser) str() (string, error) {
	p.i++ // opening quote
	start := p.i
	// Fast path: no escapes.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.fail("control character in string")
		}
		p.i++
	}
	var sb strings.Builder
	sb.Write(p.b[start:p.i])
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return sb.String(), nil
		case c < 0x20:
			return "", p.fail("control character in string")
		case c != '\\':
			sb.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			break
		}
		esc := p.b[p.i+1]
		p.i += 2
		switch esc {
		case '"', '\\', '/':
			sb.WriteByte(esc)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if lo, ok := p.hex4(); ok {
						if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
							r2 = d
						} else {
							p.i = save
						}
					} else {
						p.i = save
					}
				}
				r = r2
			}
			sb.WriteRune(r)
		default:
			p.i--
			return "", p.fail("invalid escape '\\%c' in string", esc)
		}
	}
	return "", p.fail("unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}

func (p *jsonParser) number() (any, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, p.fail("invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.fail("invalid number: digits expected after '.'")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		p.exponent = true
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.fail("invalid number: digits expected in exponent")
		}
	}
	if p.i-start > 64 {
		p.i = start
		return nil, p.fail("number longer than 64 characters")
	}
	return json.Number(p.b[start:p.i]), nil
}
