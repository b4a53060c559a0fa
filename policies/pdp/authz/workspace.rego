# The rules of the workspace actions (actions.rego's workspace_actions):
# their problems and requirements (ws_problems, ws_requirements; see authz.rego
# for how they combine).
# By the time these matter, authz.rego has checked the account, the user,
# the workspace and that the subject holds a role there or owns the account.
package pdp.authz

ws_spec := workspace_actions[input.action.name]

# --- Permission requirements ------------------------------------------------

# The action's permission, unless the target is the Account Owner (below).
ws_requirements contains perm_requirement(p) if {
	p := needed_perm
	not target_is_account_owner
}

ws_requirements contains req if {
	req := perm_requirement(ws_spec.also)
}

# perm_requirement(p) is met by the Account Owner or a role holding p.
perm_requirement(p) := {
	"kind": "perm",
	"perm": p,
	"grants": (owner_grants | {sprintf("%s holds %s", [role_label, p]) | holds(p)}),
}

fails(req) := {sprintf("%s lacks %s", [role_label, req.perm])} if req.kind == "perm"

# needed_perm: the spec's perm, or the one its perm_from property selects.
needed_perm := p if {
	p := ws_spec.perm
} else := p if {
	from := ws_spec.perm_from
	p := from.perms[perm_choice]
}

perm_choice := object.get(props, ws_spec.perm_from.property, ws_spec.perm_from.default)

ws_problems contains sprintf("unknown %s %s in resource.properties.%s: want one of %s", [
	from.label,
	json.marshal(perm_choice),
	from.property,
	concat(", ", sort(object.keys(from.perms))),
]) if {
	from := ws_spec.perm_from
	not from.perms[perm_choice]
}

# --- Owned resources --------------------------------------------------------

# owner_id is resource.properties.owner; owned actions need it.
owner_id := o if {
	o := props.owner
	is_string(o)
	o != ""
}

ws_problems contains "missing resource.properties.owner" if {
	needs_owner
	not owner_id
}

needs_owner if ws_spec.others

else if ws_spec.may_send

ws_requirements contains owned_requirement(input.action.name, ws_spec) if {
	ws_spec.others
	owner_id
}

# document.host_in_person_signing: the subject must also be able to send it.
ws_requirements contains owned_requirement("document.send", workspace_actions["document.send"]) if {
	ws_spec.may_send
	owner_id
}

owns_resource if owner_id == input.subject.id

# share_level: the subject's collaborator level on a document or document
# folder, when it is one of view, comment, edit.
share_level := level if {
	input.resource.type in {"document", "document_folder"}
	collaborators := props.collaborators
	is_object(collaborators)
	level := collaborators[input.subject.id]
	level in {"view", "comment", "edit"}
}

# owned_requirement(action, spec): on their own resource, the owner (with
# the spec's own/own_not conditions); on someone else's, a share at a level
# the spec lists or the spec's _others permission. The Account Owner always.
owned_requirement(action, spec) := {"kind": "owned", "action": action, "grants": owned_grants(spec)}

owned_grants(spec) := owner_grants | {reason |
	own_allowed(spec)
	reason := own_reason(spec)
} if {
	owns_resource
} else := (owner_grants | {sprintf("%s shared with %s for %s", [noun, input.subject.id, share_level]) |
	share_level in object.get(spec, "shares", set())
}) | {sprintf("%s holds %s", [role_label, spec.others]) | holds(spec.others)}

fails(req) := owned_fails(req.action) if req.kind == "owned"

own_allowed(spec) if {
	not spec.own
	not spec.own_not
} else if holds(spec.own)

else if {
	spec.own_not
	role != spec.own_not
}

own_reason(spec) := sprintf("owns the %s and %s holds %s", [noun, role_label, spec.own]) if {
	spec.own
} else := sprintf("owns the %s", [noun])

owned_fails(action) := {sprintf("%s lacks %s", [role_label, spec.own])} if {
	owns_resource
	spec := workspace_actions[action]
	spec.own
} else := {sprintf("%s may not %s %s, even its own", [role_label, verb(action), nouns])} if {
	owns_resource
} else := {sprintf("%s may not %s %s owned by others", [role_label, verb(action), nouns])} | share_too_weak(action)

# share_too_weak: a share exists but does not reach the action.
share_too_weak(action) := {sprintf("%s shared with %s for %s, which does not allow %s", [noun, input.subject.id, level, verb(action)]) |
	level := share_level
	not level in object.get(workspace_actions[action], "shares", set())
}

# noun and nouns name the resource in reasons: "document", "documents".
# (The resource's type is the action's, request_ok checked, and
# document.send's too for document.host_in_person_signing.)
noun := type_nouns[input.resource.type][0]

nouns := type_nouns[input.resource.type][1]

# --- document.approve -------------------------------------------------------

# approvers: resource.properties.approvers, an array of user ids.
approvers := a if {
	a := props.approvers
	is_array(a)
}

ws_problems contains "missing resource.properties.approvers" if {
	ws_spec.approver
	not approvers
}

# Not even the Account Owner approves unless named.
ws_requirements contains req if {
	ws_spec.approver
	approvers
	req := {
		"kind": "approver",
		"grants": {sprintf("%s is named in resource.properties.approvers", [subject_id]) | subject_id in approvers},
	}
}

fails(req) := {sprintf("%s is not named in resource.properties.approvers", [subject_id])} if req.kind == "approver"

# --- workspace.add_user, .remove_user, .change_user_role --------------------

# target_user: resource.properties.target_user (also account.rego's transfer).
target_user := u if {
	u := props.target_user
	is_string(u)
	u != ""
}

# target_problems: the problems of the actions that name a target user
# (target here, transfer in account.rego).
ws_problems contains p if {
	ws_spec.target
	some p in target_problems
}

target_problems contains "missing resource.properties.target_user" if not target_user

target_problems contains sprintf("unknown target user %q in account %q", [target_user, account_id]) if {
	target_user
	not is_user(target_user)
}

target_is_account_owner if {
	ws_spec.target
	target_user == account.owner
}

# Only the owner may add, remove or change the role of the owner.
ws_requirements contains req if {
	target_is_account_owner
	req := {"kind": "owner_only", "what": ws_spec.target, "grants": owner_grants}
}
