package pdp.authz_test

import data.pdp.authz

rick := "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"

morty := "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"

jerry := "CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"

req(subject, action, owner) := {
	"subject": {"type": "user", "id": subject},
	"action": {"name": action},
	"resource": {"type": "todo", "id": "t1", "properties": {"ownerID": owner}},
}

test_anyone_reads if {
	authz.decision.allow with input as req(jerry, "can_read_todos", "")
	authz.decision.allow with input as req("jerry@the-smiths.com", "can_read_user", "")
}

test_create_needs_admin_or_editor if {
	authz.decision.allow with input as req(morty, "can_create_todo", "")
	not authz.decision.allow with input as req(jerry, "can_create_todo", "")
}

test_update if {
	authz.decision.allow with input as req(rick, "can_update_todo", "jerry@the-smiths.com")
	authz.decision.allow with input as req(morty, "can_update_todo", "morty@the-citadel.com")
	not authz.decision.allow with input as req(morty, "can_update_todo", "rick@the-citadel.com")
}

test_delete if {
	authz.decision.allow with input as req(rick, "can_delete_todo", "jerry@the-smiths.com")
	authz.decision.allow with input as req(morty, "can_delete_todo", "morty@the-citadel.com")
	not authz.decision.allow with input as req(morty, "can_delete_todo", "rick@the-citadel.com")
	not authz.decision.allow with input as req(jerry, "can_delete_todo", "jerry@the-smiths.com")
}

test_unknown_user_denied_with_reason if {
	d := authz.decision with input as req("nobody", "can_read_todos", "")
	not d.allow
	d.reasons == ["unknown user \"nobody\""]
}
