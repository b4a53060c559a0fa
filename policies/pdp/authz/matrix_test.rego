package pdp.authz_test

import data.pdp.authz

# spec_matrix is model.md's role matrix copied row by row, independently of
# matrix.rego: [permission ids, M, Mg, A, C]. Changing a cell in either place
# without the other fails test_matrix_matches_spec and test_matrix_decides.
spec_matrix := [
	[["documents.create_blank", "documents.create_from_template", "documents.create_from_shared_template", "documents.create_uploaded", "documents.create_from_public_template"], "✓", "✓", "✓", "–"],
	[["documents.folders.create"], "✓", "✓", "✓", "–"],
	[["documents.view_others"], "–", "✓", "✓", "–"],
	[["documents.edit_others"], "–", "✓", "✓", "–"],
	[["documents.delete_others"], "–", "✓", "✓", "–"],
	[["documents.send_others"], "–", "✓", "✓", "–"],
	[["documents.folders.access_others"], "–", "✓", "✓", "–"],
	[["documents.folders.edit_others", "documents.folders.delete_others"], "–", "✓", "✓", "–"],
	[["templates.create_editable", "templates.create_uploaded"], "✓", "✓", "✓", "–"],
	[["templates.view_others", "templates.duplicate_others"], "✓", "✓", "✓", "–"],
	[["templates.folders.create", "templates.folders.access_others"], "✓", "✓", "✓", "–"],
	[["templates.edit_others", "templates.delete_others"], "–", "✓", "✓", "–"],
	[["templates.folders.edit_others", "templates.folders.delete_others"], "–", "✓", "✓", "–"],
	[["templates.embed"], "–", "✓", "✓", "–"],
	[["forms.create", "forms.view_others", "forms.duplicate_others", "forms.publish"], "✓", "✓", "✓", "–"],
	[["forms.edit_others", "forms.delete_others", "forms.publish_others"], "–", "✓", "✓", "–"],
	[["forms.responses.view", "forms.responses.export_csv"], "✓", "✓", "✓", "–"],
	[["forms.responses.view_others", "forms.responses.export_csv_others"], "–", "✓", "✓", "–"],
	[["content_library.create", "content_library.view_others", "content_library.folders.create"], "✓", "✓", "✓", "–"],
	[["content_library.edit_others", "content_library.folders.edit_others"], "–", "✓", "✓", "–"],
	[["images.add", "images.delete_own", "images.use_others"], "✓", "✓", "✓", "–"],
	[["images.delete_others"], "–", "✓", "✓", "–"],
	[["catalog.view_use"], "✓", "✓", "✓", "–"],
	[["catalog.create", "catalog.delete"], "–", "✓", "✓", "–"],
	[["content.restrict_editing"], "–", "✓", "✓", "–"],
	[["contacts.view", "contacts.create"], "✓", "✓", "✓", "–"],
	[["contacts.delete"], "–", "✓", "✓", "–"],
	[["integrations.view_request"], "✓", "✓", "✓", "–"],
	[["integrations.toggle"], "–", "–", "✓", "–"],
	[["workspace.users.add"], "–", "✓", "✓", "–"],
	[["workspace.users.remove", "workspace.users.change_role"], "–", "–", "✓", "–"],
	[["workspace.branding.edit", "workspace.settings.edit"], "–", "–", "✓", "–"],
	[["themes.view_apply"], "✓", "✓", "✓", "–"],
	[["themes.create", "themes.edit"], "–", "✓", "✓", "–"],
	[["themes.auto_update_workspace", "content_sharing.share"], "–", "–", "✓", "–"],
	[["reports.access", "reports.dashboard_filter_by_member", "dashboard.workspace_activity"], "–", "✓", "✓", "–"],
	[["email_messages.create", "email_messages.use_others"], "✓", "✓", "✓", "–"],
	[["email_messages.edit_others", "email_messages.delete_others"], "–", "✓", "✓", "–"],
	[["approvals.manage", "approvals.approve"], "–", "✓", "✓", "–"],
	[["in_person_signing.host"], "✓", "✓", "✓", "–"],
	[["api.developer_dashboard"], "–", "–", "✓", "–"],
]

# The table's columns, in order.
spec_columns := ["member", "manager", "admin", "collaborator"]

# spec_cells: [permission, role, expected] for every cell of spec_matrix.
spec_cells := [[id, spec_columns[col], row[col + 1] == "✓"] |
	some row in spec_matrix
	some id in row[0]
	some col in numbers.range(0, 3)
]

test_spec_table_lists_every_permission_once if {
	ids := [id | some row in spec_matrix; some id in row[0]]
	count(ids) == count({id | some id in ids})
	{id | some id in ids} == authz.workspace_permissions
	count(authz.workspace_permissions) == 74
}

test_matrix_matches_spec if {
	every cell in spec_cells {
		[id, role, expected] := cell
		in_set(role, authz.matrix[id]) == expected
	}
}

test_role_permissions_are_the_matrix_columns if {
	every cell in spec_cells {
		[id, role, expected] := cell
		in_set(id, authz.builtin_role_permissions[role]) == expected
	}
	authz.builtin_role_permissions.collaborator == set()
	count(authz.builtin_role_permissions.admin) == count(authz.workspace_permissions)
}

# probes: for each permission, a request in workspace w that a user (who is
# not the account owner) may make exactly when their role holds it. The
# second element says whose resource it is: "-" none, "own" the subject's,
# "others" someone else's.
probes := {
	"documents.create_blank": ["document.create", "-", {}],
	"documents.create_from_template": ["document.create", "-", {"source": "template"}],
	"documents.create_from_shared_template": ["document.create", "-", {"source": "shared_template"}],
	"documents.create_uploaded": ["document.create", "-", {"source": "upload"}],
	"documents.create_from_public_template": ["document.create", "-", {"source": "public_template"}],
	"documents.folders.create": ["document_folder.create", "-", {}],
	"documents.view_others": ["document.view", "others", {}],
	"documents.edit_others": ["document.edit", "others", {}],
	"documents.delete_others": ["document.delete", "others", {}],
	"documents.send_others": ["document.send", "others", {}],
	"documents.folders.access_others": ["document_folder.view", "others", {}],
	"documents.folders.edit_others": ["document_folder.edit", "others", {}],
	"documents.folders.delete_others": ["document_folder.delete", "others", {}],
	"templates.create_editable": ["template.create", "-", {"kind": "editable"}],
	"templates.create_uploaded": ["template.create", "-", {"kind": "uploaded"}],
	"templates.view_others": ["template.view", "others", {}],
	"templates.duplicate_others": ["template.duplicate", "others", {}],
	"templates.folders.create": ["template_folder.create", "-", {}],
	"templates.folders.access_others": ["template_folder.view", "others", {}],
	"templates.edit_others": ["template.edit", "others", {}],
	"templates.delete_others": ["template.delete", "others", {}],
	"templates.folders.edit_others": ["template_folder.edit", "others", {}],
	"templates.folders.delete_others": ["template_folder.delete", "others", {}],
	"templates.embed": ["template.embed", "-", {}],
	"forms.create": ["form.create", "-", {}],
	"forms.view_others": ["form.view", "others", {}],
	"forms.duplicate_others": ["form.duplicate", "others", {}],
	"forms.publish": ["form.publish", "own", {}],
	"forms.edit_others": ["form.edit", "others", {}],
	"forms.delete_others": ["form.delete", "others", {}],
	"forms.publish_others": ["form.publish", "others", {}],
	"forms.responses.view": ["form.view_responses", "own", {}],
	"forms.responses.export_csv": ["form.export_responses", "own", {}],
	"forms.responses.view_others": ["form.view_responses", "others", {}],
	"forms.responses.export_csv_others": ["form.export_responses", "others", {}],
	"content_library.create": ["content_item.create", "-", {}],
	"content_library.view_others": ["content_item.view", "others", {}],
	"content_library.folders.create": ["content_folder.create", "-", {}],
	"content_library.edit_others": ["content_item.edit", "others", {}],
	"content_library.folders.edit_others": ["content_folder.edit", "others", {}],
	"images.add": ["image.add", "-", {}],
	"images.delete_own": ["image.delete", "own", {}],
	"images.use_others": ["image.use", "others", {}],
	"images.delete_others": ["image.delete", "others", {}],
	"catalog.view_use": ["catalog_item.view", "-", {}],
	"catalog.create": ["catalog_item.create", "-", {}],
	"catalog.delete": ["catalog_item.delete", "-", {}],
	"content.restrict_editing": ["content_block.restrict_editing", "-", {}],
	"contacts.view": ["contact.view", "-", {}],
	"contacts.create": ["contact.create", "-", {}],
	"contacts.delete": ["contact.delete", "-", {}],
	"integrations.view_request": ["integration.request", "-", {}],
	"integrations.toggle": ["integration.toggle", "-", {}],
	"workspace.users.add": ["workspace.add_user", "-", {"target_user": "outsider"}],
	"workspace.users.remove": ["workspace.remove_user", "-", {"target_user": "member2"}],
	"workspace.users.change_role": ["workspace.change_user_role", "-", {"target_user": "member2"}],
	"workspace.branding.edit": ["workspace.edit_branding", "-", {}],
	"workspace.settings.edit": ["workspace.edit_settings", "-", {}],
	"themes.view_apply": ["theme.apply", "-", {}],
	"themes.create": ["theme.create", "-", {}],
	"themes.edit": ["theme.edit", "-", {}],
	"themes.auto_update_workspace": ["theme.auto_update", "-", {}],
	"content_sharing.share": ["content_item.share", "-", {}],
	"reports.access": ["workspace.view_reports", "-", {}],
	"reports.dashboard_filter_by_member": ["workspace.filter_dashboard", "-", {}],
	"dashboard.workspace_activity": ["workspace.view_activity", "-", {}],
	"email_messages.create": ["email_message.create", "-", {}],
	"email_messages.use_others": ["email_message.use", "others", {}],
	"email_messages.edit_others": ["email_message.edit", "others", {}],
	"email_messages.delete_others": ["email_message.delete", "others", {}],
	"approvals.manage": ["workspace.manage_approvals", "-", {}],
	"approvals.approve": ["document.approve", "-", {"approvers": ["member", "manager", "admin", "collab", "reviewer"]}],
	"in_person_signing.host": ["document.host_in_person_signing", "own", {}],
	"api.developer_dashboard": ["workspace.open_developer_dashboard", "-", {}],
}

probe_props(_, [_, "-", extra]) := extra

probe_props(user, [_, "own", extra]) := object.union(extra, own(user))

probe_props(_, [_, "others", extra]) := object.union(extra, others)

test_every_permission_has_a_probe if {
	{p | some p, _ in probes} == authz.workspace_permissions
}

# Every matrix cell, through a real decision: the role's user may make the
# permission's probe request exactly when the spec table ticks the cell.
# (One test per column keeps each test short under `opa test -v`.)
matrix_decides(role) if {
	every cell in spec_cells {
		[id, cell_role, expected] := cell
		matrix_decides_cell(role, cell_role, id, expected)
	}
}

matrix_decides_cell(role, cell_role, _, _) if role != cell_role

matrix_decides_cell(role, role, id, expected) if {
	user := role_users[role]
	probe := probes[id]
	d := decide(user, probe[0], probe_props(user, probe))
	d.allow == expected
	well_formed(d)
}

test_matrix_decides_member if matrix_decides("member")

test_matrix_decides_manager if matrix_decides("manager")

test_matrix_decides_admin if matrix_decides("admin")

test_matrix_decides_collaborator if matrix_decides("collaborator")

# The same probes for a custom role: it holds exactly its listed permissions
# (each "own" probe needs its permission even on the user's own resource).
test_custom_role_holds_exactly_its_permissions if {
	every id, probe in probes {
		d := decide("reviewer", probe[0], probe_props("reviewer", probe))
		d.allow == in_set(id, {"documents.view_others", "approvals.approve"})
	}
}

test_catalogue_sets if {
	authz.account_permissions == {
		"business_management", "billing", "purchase", "logs",
		"admin_logs", "domain_management", "activation_rules", "roles_and_permissions",
	}
	authz.builtin_roles == {"admin", "manager", "member", "collaborator"}
}

# The validator evaluates the catalogue with an empty data store.
test_catalogue_needs_no_data if {
	count(authz.workspace_permissions) == 74 with data.accounts as {}
	count(authz.account_permissions) == 8 with data.accounts as {}
}
