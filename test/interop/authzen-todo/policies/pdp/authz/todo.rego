# The public AuthZEN "Todo" interop scenario, served through pdp's one
# entrypoint (data.pdp.authz.decision). Subjects arrive as opaque ids that
# map to users in data.todo.users; a user may also be addressed by email.
package pdp.authz

users := data.todo.users

# The subject's user record: by id, else by email.
user := users[input.subject.id]

user := u if {
	not users[input.subject.id]
	some u in users
	u.email == input.subject.id
}

roles contains r if some r in user.roles

own_todo if input.resource.properties.ownerID == user.email

# grants holds the reasons an action is allowed.
grants contains "anyone may read users" if {
	user
	input.action.name == "can_read_user"
}

grants contains "anyone may read todos" if {
	user
	input.action.name == "can_read_todos"
}

grants contains sprintf("%s may create todos", [r]) if {
	input.action.name == "can_create_todo"
	some r in (roles & {"admin", "editor"})
}

grants contains "evil_genius may update any todo" if {
	input.action.name == "can_update_todo"
	"evil_genius" in roles
}

grants contains "editor may update own todo" if {
	input.action.name == "can_update_todo"
	"editor" in roles
	own_todo
}

grants contains "admin may delete any todo" if {
	input.action.name == "can_delete_todo"
	"admin" in roles
}

grants contains "editor may delete own todo" if {
	input.action.name == "can_delete_todo"
	"editor" in roles
	own_todo
}

default decision := {"allow": false, "reasons": ["no rule grants this action"]}

decision := {"allow": true, "reasons": sort(grants)} if count(grants) > 0

decision := {"allow": false, "reasons": [sprintf("unknown user %q", [input.subject.id])]} if {
	count(grants) == 0
	not user
}

decision := {"allow": false, "reasons": [sprintf("roles %v do not allow %s", [sort(roles), input.action.name])]} if {
	count(grants) == 0
	user
}

actions := {"can_read_user", "can_read_todos", "can_create_todo", "can_update_todo", "can_delete_todo"}
