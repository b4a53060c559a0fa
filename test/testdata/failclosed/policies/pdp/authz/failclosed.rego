# Fail-closed fixtures for test/hardening_test.go: every way a decision
# can go wrong, chosen by input.action.name. Only "ok" is a well-formed
# allow; every other action must come back as a deny with a reason (or as
# an error item, or a 500 on forward-auth). The test binary registers the
# pdptest.panic builtin this calls, so `opa check` alone cannot compile it.
package pdp.authz

actions := {
	"ok", "deny_without_reasons", "reasons_not_strings",
	"allow_string", "allow_number", "allow_null", "allow_array", "allow_missing",
	"bare_true", "string_decision", "array_decision",
	"to_number", "divide_by_zero", "negated_error", "conflict", "timeout", "panic", "undefined",
}

# Candidates for /access/v1/search/subject.
subjects := ["alice", "bob"]

decision := {"allow": true, "reasons": ["ok allows"]} if input.action.name == "ok"

# Malformed verdicts.
decision := {"allow": false} if input.action.name == "deny_without_reasons"

decision := {"allow": false, "reasons": [1, "", null]} if input.action.name == "reasons_not_strings"

decision := {"allow": "yes", "reasons": ["a string is not a boolean"]} if input.action.name == "allow_string"

decision := {"allow": 1, "reasons": ["a number is not a boolean"]} if input.action.name == "allow_number"

decision := {"allow": null, "reasons": ["null is not a boolean"]} if input.action.name == "allow_null"

decision := {"allow": [true], "reasons": ["an array is not a boolean"]} if input.action.name == "allow_array"

decision := {"reasons": ["allow is missing"]} if input.action.name == "allow_missing"

decision := true if input.action.name == "bare_true"

decision := "allow" if input.action.name == "string_decision"

decision := [true] if input.action.name == "array_decision"

# Evaluation errors (the snapshot's queries use strict builtin errors).
decision := {"allow": to_number(input.resource.id) > 0, "reasons": ["to_number"]} if input.action.name == "to_number"

decision := {"allow": 1 / count(object.get(input.resource, "properties", {})) > 0, "reasons": ["divided"]} if {
	input.action.name == "divide_by_zero"
}

# Without strict errors, to_number("x") would be undefined, positive would
# fall back to its default, and `not positive` would allow.
default positive := false

positive if to_number(input.resource.id) > 0

decision := {"allow": true, "reasons": ["not positive"]} if {
	input.action.name == "negated_error"
	not positive
}

# Two bodies of a complete rule with different values: a conflict error.
decision := {"allow": true, "reasons": ["first"]} if input.action.name == "conflict"

decision := {"allow": false, "reasons": ["second"]} if input.action.name == "conflict"

# Would allow if it ever finished: 10^9 steps, cut off by --decision-timeout.
decision := {"allow": true, "reasons": ["finished burning"]} if {
	input.action.name == "timeout"
	not burn
}

burn if {
	r := numbers.range(1, 1000)
	some a in r
	some b in r
	some c in r
	a + b + c < 0
}

decision := {"allow": pdptest.panic(input), "reasons": ["panicked"]} if input.action.name == "panic"

# Queried directly through the Data API.
boom := to_number(input.x)
