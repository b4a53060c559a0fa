# Route table fixtures for test/hardening_test.go: /ok and /decide/{action}
# map to a decision of pdp.authz; every other path breaks the table itself.
package pdp.routes

route := {"action": "ok", "resource": {"type": "thing", "id": "1"}} if input.path == "/ok"

route := {"action": action, "resource": {"type": "thing", "id": "x"}} if {
	startswith(input.path, "/decide/")
	action := trim_prefix(input.path, "/decide/")
}

route := {"action": "ok", "resource": {"type": "thing", "id": format_int(to_number(input.path), 10)}} if {
	input.path == "/route/error"
}

route := "not a mapping" if input.path == "/route/malformed"

route := {"resource": {"type": "thing", "id": "1"}} if input.path == "/route/no-action"

route := {"action": "ok", "resource": {"type": "thing"}} if input.path == "/route/no-id"

route := {"action": "ok", "resource": {"type": "thing", "id": "1"}} if input.path == "/route/conflict"

route := {"action": "ok", "resource": {"type": "thing", "id": "2"}} if input.path == "/route/conflict"

route := {"action": "ok", "resource": {"type": "thing", "id": "1"}} if {
	input.path == "/route/timeout"
	not data.pdp.authz.burn
}

route := {"action": "ok", "resource": {"type": "thing", "id": "1", "properties": pdptest.panic(input)}} if {
	input.path == "/route/panic"
}
