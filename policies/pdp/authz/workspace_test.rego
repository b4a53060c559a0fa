package pdp.authz_test

import data.pdp.authz

# The users of workspace w other than the account owner, one per role:
# built-in roles, a custom role with two permissions, one with one other
# permission, one with none.
w_users := {"member", "manager", "admin", "collab", "reviewer", "publisher", "nobody"}

# --- Owned resources: own, others', shared -----------------------------------

# own_table: owned action -> the users of w who may do it on a resource they
# own (model.md: any role, except where the row names a permission or role).
own_table := {
	"document.view": w_users,
	"document.comment": w_users,
	"document.edit": w_users,
	"document.delete": w_users,
	"document.send": w_users - {"collab"},
	"document_folder.view": w_users,
	"document_folder.edit": w_users,
	"document_folder.delete": w_users,
	"template.view": w_users,
	"template.duplicate": {"member", "manager", "admin"}, # also templates.create_editable
	"template.edit": w_users,
	"template.delete": w_users,
	"template_folder.view": w_users,
	"template_folder.edit": w_users,
	"template_folder.delete": w_users,
	"form.view": w_users,
	"form.duplicate": w_users,
	"form.edit": w_users,
	"form.delete": w_users,
	"form.publish": {"member", "manager", "admin"}, # forms.publish
	"form.view_responses": {"member", "manager", "admin"}, # forms.responses.view
	"form.export_responses": {"member", "manager", "admin"}, # forms.responses.export_csv
	"content_item.view": w_users,
	"content_item.edit": w_users,
	"content_item.delete": w_users,
	"content_folder.edit": w_users,
	"image.use": w_users,
	"image.delete": {"member", "manager", "admin"}, # images.delete_own
	"email_message.use": w_users,
	"email_message.edit": w_users,
	"email_message.delete": w_users,
}

# others_table: owned action -> the users of w who may do it on a resource
# someone else owns and nobody shared.
others_table := {
	"document.view": {"manager", "admin", "reviewer"},
	"document.comment": {"manager", "admin", "reviewer"},
	"document.edit": {"manager", "admin"},
	"document.delete": {"manager", "admin"},
	"document.send": {"manager", "admin"},
	"document_folder.view": {"manager", "admin"},
	"document_folder.edit": {"manager", "admin"},
	"document_folder.delete": {"manager", "admin"},
	"template.view": {"member", "manager", "admin"},
	"template.duplicate": {"member", "manager", "admin"},
	"template.edit": {"manager", "admin"},
	"template.delete": {"manager", "admin"},
	"template_folder.view": {"member", "manager", "admin"},
	"template_folder.edit": {"manager", "admin"},
	"template_folder.delete": {"manager", "admin"},
	"form.view": {"member", "manager", "admin"},
	"form.duplicate": {"member", "manager", "admin"},
	"form.edit": {"manager", "admin"},
	"form.delete": {"manager", "admin"},
	"form.publish": {"manager", "admin", "publisher"},
	"form.view_responses": {"manager", "admin"},
	"form.export_responses": {"manager", "admin"},
	"content_item.view": {"member", "manager", "admin"},
	"content_item.edit": {"manager", "admin"},
	"content_item.delete": {"manager", "admin"},
	"content_folder.edit": {"manager", "admin"},
	"image.use": {"member", "manager", "admin"},
	"image.delete": {"manager", "admin", "publisher"},
	"email_message.use": {"member", "manager", "admin"},
	"email_message.edit": {"manager", "admin"},
	"email_message.delete": {"manager", "admin"},
}

test_owned_tables_cover_every_owned_action if {
	owned := {a | some a, spec in authz.workspace_actions; spec.others}
	{a | some a, _ in own_table} == owned
	{a | some a, _ in others_table} == owned
}

# own/others checks, split by kind of role to keep each test short.
builtin_role_users := {"member", "manager", "admin", "collab"}

custom_role_users := {"reviewer", "publisher", "nobody"}

owned_table_holds(table, users, props_of) if {
	every action, allowed_users in table {
		every user in users {
			d := decide(user, action, props_of[user])
			d.allow == in_set(user, allowed_users)
			well_formed(d)
		}
	}
}

own_props := {user: own(user) | some user in w_users}

others_props := {user: others | some user in w_users}

test_own_resources_builtin_roles if owned_table_holds(own_table, builtin_role_users, own_props)

test_own_resources_custom_roles if owned_table_holds(own_table, custom_role_users, own_props)

test_others_resources_builtin_roles if owned_table_holds(others_table, builtin_role_users, others_props)

test_others_resources_custom_roles if owned_table_holds(others_table, custom_role_users, others_props)

test_own_reasons if {
	allowed_because("collab", "document.edit", own("collab"), "owns the document")
	allowed_because("member", "form.publish", own("member"), "owns the form and member holds forms.publish")
	denied_because("collab", "image.delete", own("collab"), "collaborator lacks images.delete_own")
	denied_because("publisher", "form.publish", own("publisher"), `custom role "publisher" lacks forms.publish`)
	denied_because("collab", "document.send", own("collab"), "collaborator may not send documents, even its own")
	denied_because("collab", "template.duplicate", own("collab"), "collaborator lacks templates.create_editable")
	allowed_because("nobody", "email_message.edit", own("nobody"), "owns the email message")
}

test_others_reasons if {
	denied_because("member", "document.edit", others, "member may not edit documents owned by others")
	denied_because("member", "document_folder.view", others, "member may not view document folders owned by others")
	denied_because("member", "form.view_responses", others, "member may not view the responses of forms owned by others")
	denied_because("member", "form.export_responses", others, "member may not export the responses of forms owned by others")
	denied_because("reviewer", "document.edit", others, `custom role "reviewer" may not edit documents owned by others`)
	denied_because("collab", "content_item.view", others, "collaborator may not view content library items owned by others")
	allowed_because("manager", "document.edit", others, "manager holds documents.edit_others")
	allowed_because("reviewer", "document.comment", others, `custom role "reviewer" holds documents.view_others`)
	allowed_because("admin", "content_item.delete", others, "admin holds content_library.edit_others")

	# duplicate needs both: others' templates and templates.create_editable
	d := decide("collab", "template.duplicate", others)
	d.reasons == ["collaborator lacks templates.create_editable", "collaborator may not duplicate templates owned by others"]
}

test_others_permission_does_not_stand_in_for_own if {
	# publisher holds images.delete_others but not images.delete_own
	allowed("publisher", "image.delete", others)
	denied_because("publisher", "image.delete", own("publisher"), `custom role "publisher" lacks images.delete_own`)
}

# An allow lists every grant that fired, sorted.
test_all_reasons_of_an_allow if {
	decide("manager", "document.view", {"owner": "member", "collaborators": {"manager": "view"}}).reasons == [
		"document shared with manager for view",
		"manager holds documents.view_others",
	]
	decide("owner", "document.edit", {"workspace": "w2", "owner": "owner"}).reasons == [`account owner of "t"`, "owns the document"]

	# _others permissions speak only for others' resources
	decide("admin", "document.view", own("admin")).reasons == ["owns the document"]
}

# share_table: action -> share level -> may a member or collaborator (no
# _others permission) do it on someone else's resource shared at that level.
share_table := {
	"document.view": {"view": true, "comment": true, "edit": true},
	"document.comment": {"view": false, "comment": true, "edit": true},
	"document.edit": {"view": false, "comment": false, "edit": true},
	"document.delete": {"view": false, "comment": false, "edit": false},
	"document.send": {"view": false, "comment": false, "edit": false},
	"document_folder.view": {"view": true, "comment": true, "edit": true},
	"document_folder.edit": {"view": false, "comment": false, "edit": false},
	"document_folder.delete": {"view": false, "comment": false, "edit": false},
}

test_shares if {
	every action, levels in share_table {
		every level, expected in levels {
			every user in {"member", "collab"} {
				props := {"owner": "manager", "collaborators": {user: level}}
				d := decide(user, action, props)
				d.allow == expected
				well_formed(d)
			}
		}
	}
}

test_share_reasons if {
	allowed_because("member", "document.edit", {"owner": "manager", "collaborators": {"member": "edit"}}, "document shared with member for edit")
	allowed_because("collab", "document_folder.view", {"owner": "manager", "collaborators": {"collab": "comment"}}, "document folder shared with collab for comment")
	d := decide("member", "document.edit", {"owner": "manager", "collaborators": {"member": "view"}})
	d.reasons == [
		"document shared with member for view, which does not allow edit",
		"member may not edit documents owned by others",
	]
	denied_because("collab", "document.delete", {"owner": "manager", "collaborators": {"collab": "edit"}}, "document shared with collab for edit, which does not allow delete")
}

test_shares_only_count_for_documents_and_document_folders if {
	every action in {"template.view", "form.edit", "content_item.view", "email_message.use", "image.use"} {
		denied("collab", action, {"owner": "manager", "collaborators": {"collab": "edit"}})
	}
}

test_invalid_shares_grant_nothing if {
	denied("member", "document.view", {"owner": "manager", "collaborators": {"member": "owner"}})
	denied("member", "document.view", {"owner": "manager", "collaborators": {"member": true}})
	denied("member", "document.view", {"owner": "manager", "collaborators": ["member"]})
	denied("member", "document.view", {"owner": "manager", "collaborators": "member=view"})

	# another user's share
	denied("member", "document.view", {"owner": "manager", "collaborators": {"collab": "edit"}})
}

test_share_needs_a_role_in_the_workspace if {
	# outsider is a user of t with no role in w: a share does not let them in
	props := {"owner": "manager", "collaborators": {"outsider": "edit"}}
	decide("outsider", "document.view", props) == {"allow": false, "reasons": [`no role in workspace "w"`]}
	decide("outsider", "document.edit", own("outsider")).reasons == [`no role in workspace "w"`]
}

test_owned_actions_need_the_owner_property if {
	needs_owner := {a | some a, _ in own_table} | {"document.host_in_person_signing"}
	every action in needs_owner {
		every user in {"owner", "admin", "member"} {
			d := decide(user, action, {})
			d.allow == false
			"missing resource.properties.owner" in d.reasons
			well_formed(d)
		}
		denied_because("admin", action, {"owner": ""}, "missing resource.properties.owner")
		denied_because("admin", action, {"owner": 7}, "missing resource.properties.owner")
	}
}

test_actions_without_ownership_ignore_the_owner if {
	every action in {"template.embed", "template.share", "content_item.share", "contact.view", "catalog_item.edit"} {
		allowed("admin", action, {})
		allowed("admin", action, own("admin"))
		allowed("admin", action, others)
	}
}

# --- Creation ---------------------------------------------------------------

test_document_sources if {
	every source, _ in {"blank": 1, "template": 2, "shared_template": 3, "upload": 4, "public_template": 5} {
		allowed("member", "document.create", {"source": source})
		denied("collab", "document.create", {"source": source})
	}
	allowed_because("member", "document.create", {}, "member holds documents.create_blank")
	denied_because("collab", "document.create", {}, "collaborator lacks documents.create_blank")
	denied_because("collab", "document.create", {"source": "upload"}, "collaborator lacks documents.create_uploaded")
}

test_unknown_document_source if {
	d := decide("owner", "document.create", {"source": "fax"})
	d == {"allow": false, "reasons": [`unknown document source "fax" in resource.properties.source: want one of blank, public_template, shared_template, template, upload`]}
	denied("admin", "document.create", {"source": 3})
	denied("admin", "document.create", {"source": ""})
}

test_template_kinds if {
	allowed_because("member", "template.create", {}, "member holds templates.create_editable")
	allowed_because("member", "template.create", {"kind": "uploaded"}, "member holds templates.create_uploaded")
	denied_because("collab", "template.create", {"kind": "editable"}, "collaborator lacks templates.create_editable")
	denied_because("owner", "template.create", {"kind": "pdf"}, `unknown template kind "pdf" in resource.properties.kind: want one of editable, uploaded`)
}

# --- document.approve -------------------------------------------------------

test_approve if {
	named := {"approvers": ["manager", "owner", "member", "reviewer"]}
	d := decide("manager", "document.approve", named)
	d == {"allow": true, "reasons": ["manager holds approvals.approve", "manager is named in resource.properties.approvers"]}
	allowed("reviewer", "document.approve", named)
	denied_because("member", "document.approve", named, "member lacks approvals.approve")
	denied_because("admin", "document.approve", named, "admin is not named in resource.properties.approvers")
	denied_because("admin", "document.approve", {}, "missing resource.properties.approvers")
	denied_because("admin", "document.approve", {"approvers": "admin"}, "missing resource.properties.approvers")
}

test_owner_approves_only_when_named if {
	allowed_because("owner", "document.approve", {"approvers": ["owner"]}, `account owner of "t"`)
	decide("owner", "document.approve", {"approvers": ["manager"]}) == {"allow": false, "reasons": ["owner is not named in resource.properties.approvers"]}
}

# --- document.host_in_person_signing and document.send -----------------------

test_host_in_person_signing if {
	allowed("member", "document.host_in_person_signing", own("member"))
	denied_because("member", "document.host_in_person_signing", others, "member may not send documents owned by others")
	allowed("manager", "document.host_in_person_signing", others)
	d := decide("collab", "document.host_in_person_signing", own("collab"))
	d.reasons == ["collaborator lacks in_person_signing.host", "collaborator may not send documents, even its own"]
	denied_because("reviewer", "document.host_in_person_signing", own("reviewer"), `custom role "reviewer" lacks in_person_signing.host`)
	allowed("owner", "document.host_in_person_signing", others)
}

test_send_via_share_never if {
	denied("member", "document.send", {"owner": "manager", "collaborators": {"member": "edit"}})
	allowed("nobody", "document.send", own("nobody"))
}

# --- Workspace membership ---------------------------------------------------

test_workspace_user_management if {
	allowed_because("manager", "workspace.add_user", {"target_user": "outsider"}, "manager holds workspace.users.add")
	denied_because("manager", "workspace.remove_user", {"target_user": "member"}, "manager lacks workspace.users.remove")
	allowed("admin", "workspace.remove_user", {"target_user": "member"})
	allowed("admin", "workspace.change_user_role", {"target_user": "manager"})
	denied_because("member", "workspace.add_user", {"target_user": "outsider"}, "member lacks workspace.users.add")
}

test_workspace_user_management_needs_a_target if {
	every action in {"workspace.add_user", "workspace.remove_user", "workspace.change_user_role"} {
		denied_because("admin", action, {}, "missing resource.properties.target_user")
		denied_because("owner", action, {"target_user": ["member"]}, "missing resource.properties.target_user")
		denied_because("owner", action, {"target_user": "vo"}, `unknown target user "vo" in account "t"`)
	}
}

test_only_the_owner_manages_the_owner if {
	denied_because("admin", "workspace.change_user_role", {"target_user": "owner"}, "only the account owner may change the account owner's workspace role")
	denied_because("admin", "workspace.remove_user", {"target_user": "owner"}, "only the account owner may remove the account owner from a workspace")
	denied_because("manager", "workspace.add_user", {"target_user": "owner"}, "only the account owner may add the account owner to a workspace")
	allowed_because("owner", "workspace.change_user_role", {"target_user": "owner"}, `account owner of "t"`)

	# in w2 the owner is a collaborator, and still manages their own role
	allowed("owner", "workspace.change_user_role", {"workspace": "w2", "target_user": "owner"})
	denied("w2admin", "workspace.change_user_role", {"workspace": "w2", "target_user": "owner"})
}

# --- The Account Owner --------------------------------------------------------

# full_props: properties that make every workspace action well-formed for user.
full_props(user) := {
	"owner": "member2",
	"approvers": [user],
	"target_user": "member2",
}

owner_has_full_access(ws) if {
	every action, _ in authz.workspace_actions {
		d := decide("owner", action, object.union(full_props("owner"), {"workspace": ws}))
		d.allow == true
		`account owner of "t"` in d.reasons
		well_formed(d)
	}
}

# w: the owner holds no role; w2: collaborator; w3: no role, other members
test_owner_has_full_access_without_a_role if owner_has_full_access("w")

test_owner_has_full_access_as_a_collaborator if owner_has_full_access("w2")

test_owner_has_full_access_where_others_hold_roles if owner_has_full_access("w3")

test_admin_has_every_workspace_permission if {
	every action, _ in authz.workspace_actions {
		allowed("admin", action, full_props("admin"))
	}
}

test_collaborator_has_no_permission if {
	# only owned actions on their own resources are open to a collaborator
	not_owned := {a | some a, spec in authz.workspace_actions; not spec.others}
	count(not_owned) == 39
	every action in not_owned {
		denied("collab", action, full_props("collab"))
	}
}

test_owner_needs_an_existing_workspace if {
	decide("owner", "contact.view", {"workspace": "nope"}).reasons == [`unknown workspace "nope" in account "t"`]
}

# --- Isolation --------------------------------------------------------------

test_roles_do_not_cross_workspaces if {
	# member is admin in w2, admin is member in w2
	allowed("member", "workspace.edit_settings", {"workspace": "w2"})
	denied_because("member", "workspace.edit_settings", {}, "member lacks workspace.settings.edit")
	allowed("admin", "workspace.edit_settings", {})
	denied_because("admin", "workspace.edit_settings", {"workspace": "w2"}, "member lacks workspace.settings.edit")

	# manager holds no role in w2, even on their own document
	decide("manager", "document.view", {"workspace": "w2", "owner": "manager"}).reasons == [`no role in workspace "w2"`]
}

test_roles_do_not_cross_accounts if {
	# "member" administers workspace w of account u; in t it is a member
	denied("member", "workspace.edit_settings", {"account": "t", "workspace": "w"})
	allowed("member", "workspace.edit_settings", {"account": "u", "workspace": "w"})
	decide("manager", "contact.view", {"account": "u", "workspace": "w"}).reasons == [`unknown user "manager" in account "u"`]
}

test_custom_roles if {
	allowed_because("reviewer", "document.view", others, `custom role "reviewer" holds documents.view_others`)
	denied_because("nobody", "contact.view", {}, `custom role "empty_role" lacks contacts.view`)
	allowed("nobody", "document.edit", own("nobody"))
}

test_undefined_custom_role_grants_nothing if {
	broken := object.union(accounts, {"t": {"workspaces": {"w": {"members": {"member": "ghost"}}}}})
	d := authz.decision with input as req("member", "contact.view", {}) with data.accounts as broken
	d == {"allow": false, "reasons": [`custom role "ghost" lacks contacts.view`]}
}
