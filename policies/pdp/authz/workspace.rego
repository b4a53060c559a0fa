# The rules of the workspace actions (actions.rego's workspace_actions):
# their problems and requirements (see authz.rego for how they combine).
# By the time these matter, authz.rego has checked the account, the user,
# the workspace and that the subject holds a role there or owns the account.
package pdp.authz

ws_spec := workspace_actions[action_name]

# --- Permission requirements ------------------------------------------------

# The action's permission, unless the target is the Account Owner (below).
requirements contains req if {
	not target_is_account_owner
	req := perm_requirement(needed_perm)
}

requirements contains req if {
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
needed_perm := ws_spec.perm if {
	ws_spec.perm
} else := ws_spec.perm_from.perms[perm_choice]

perm_choice := object.get(props, ws_spec.perm_from.property, ws_spec.perm_from.default)

problems contains sprintf("unknown %s %s in resource.properties.%s: want one of %s", [
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
owner_id := props.owner if nonempty_string(props.owner)

problems contains "missing resource.properties.owner" if {
	needs_owner
	not owner_id
}

needs_owner if ws_spec.others

needs_owner if ws_spec.may_send

requirements contains req if {
	ws_spec.others
	owner_id
	req := owned_requirement(action_name)
}

# document.host_in_person_signing: the subject must also be able to send it.
requirements contains req if {
	ws_spec.may_send
	owner_id
	req := owned_requirement("document.send")
}

owns_resource if owner_id == subject_id

# share_level: the subject's collaborator level on a document or document
# folder, when it is one of view, comment, edit.
share_level := level if {
	input.resource.type in {"document", "document_folder"}
	collaborators := props.collaborators
	is_object(collaborators)
	level := collaborators[subject_id]
	level in {"view", "comment", "edit"}
}

# owned_requirement(action): own (with the spec's own/own_not conditions), a
# share at a level the spec lists, or the spec's _others permission on a
# resource owned by someone else. The Account Owner always.
owned_requirement(action) := {
	"kind": "owned",
	"action": action,
	"grants": (((owner_grants | own_grants(action)) | share_grants(action)) | others_grants(action)),
}

fails(req) := owned_fails(req.action) if req.kind == "owned"

own_grants(action) := {reason |
	owns_resource
	spec := workspace_actions[action]
	own_allowed(spec)
	reason := own_reason(action, spec)
}

own_allowed(spec) if {
	not spec.own
	not spec.own_not
}

own_allowed(spec) if holds(spec.own)

own_allowed(spec) if {
	spec.own_not
	role != spec.own_not
}

own_reason(action, spec) := sprintf("owns the %s and %s holds %s", [noun(action), role_label, spec.own]) if {
	spec.own
} else := sprintf("owns the %s", [noun(action)])

share_grants(action) := {sprintf("%s shared with %s for %s", [noun(action), subject_id, share_level]) |
	not owns_resource
	share_level in object.get(workspace_actions[action], "shares", set())
}

others_grants(action) := {sprintf("%s holds %s", [role_label, p]) |
	not owns_resource
	p := workspace_actions[action].others
	holds(p)
}

owned_fails(action) := {sprintf("%s lacks %s", [role_label, spec.own])} if {
	owns_resource
	spec := workspace_actions[action]
	spec.own
} else := {sprintf("%s may not %s %s, even its own", [role_label, verb(action), nouns(action)])} if {
	owns_resource
} else := {sprintf("%s may not %s %s owned by others", [role_label, verb(action), nouns(action)])} | share_too_weak(action)

# share_too_weak: a share exists but does not reach the action.
share_too_weak(action) := {sprintf("%s shared with %s for %s, which does not allow %s", [noun(action), subject_id, level, verb(action)]) |
	level := share_level
	not level in object.get(workspace_actions[action], "shares", set())
}

noun(action) := type_nouns[resource_type_of(action)][0]

nouns(action) := type_nouns[resource_type_of(action)][1]

# --- document.approve -------------------------------------------------------

# approvers: resource.properties.approvers, an array of user ids.
approvers := a if {
	a := props.approvers
	is_array(a)
}

problems contains "missing resource.properties.approvers" if {
	ws_spec.approver
	not approvers
}

# Not even the Account Owner approves unless named.
requirements contains req if {
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
target_user := props.target_user if nonempty_string(props.target_user)

needs_target if ws_spec.target

problems contains "missing resource.properties.target_user" if {
	needs_target
	not target_user
}

problems contains sprintf("unknown target user %q in account %q", [target_user, account_id]) if {
	needs_target
	target_user
	not is_user(target_user)
}

target_is_account_owner if {
	ws_spec.target
	target_user == data.accounts[account_id].owner
}

# Only the owner may add, remove or change the role of the owner.
requirements contains req if {
	target_is_account_owner
	req := {"kind": "owner_only", "what": ws_spec.target, "grants": owner_grants}
}
