# The permission catalogue of model.md, and nothing else: the workspace role
# matrix, the eight account permissions and the built-in workspace roles.
# The Go data validator reads workspace_permissions, account_permissions and
# builtin_roles (with an empty data store), so the catalogue lives only here.
package pdp.authz

# matrix is model.md's "Workspace permissions (role matrix)" table, one entry
# per permission id, in the spec's row order: permission -> the built-in
# roles that hold it. The collaborator column is "–" on every row, so
# "collaborator" appears nowhere. (i) marks a cell the spec inferred.
# To change a cell, change it here (and in matrix_test.rego's copy).
matrix := {
	# documents.create_blank, .create_from_template, .create_from_shared_template, .create_uploaded, .create_from_public_template
	"documents.create_blank": {"member", "manager", "admin"},
	"documents.create_from_template": {"member", "manager", "admin"},
	"documents.create_from_shared_template": {"member", "manager", "admin"},
	"documents.create_uploaded": {"member", "manager", "admin"},
	"documents.create_from_public_template": {"member", "manager", "admin"},
	"documents.folders.create": {"member", "manager", "admin"},
	# members and collaborators: others' documents and folders only via a share
	"documents.view_others": {"manager", "admin"},
	"documents.edit_others": {"manager", "admin"},
	"documents.delete_others": {"manager", "admin"},
	"documents.send_others": {"manager", "admin"},
	"documents.folders.access_others": {"manager", "admin"},
	"documents.folders.edit_others": {"manager", "admin"},
	"documents.folders.delete_others": {"manager", "admin"},
	# templates
	"templates.create_editable": {"member", "manager", "admin"},
	"templates.create_uploaded": {"member", "manager", "admin"},
	"templates.view_others": {"member", "manager", "admin"},
	"templates.duplicate_others": {"member", "manager", "admin"},
	"templates.folders.create": {"member", "manager", "admin"},
	"templates.folders.access_others": {"member", "manager", "admin"},
	"templates.edit_others": {"manager", "admin"},
	"templates.delete_others": {"manager", "admin"},
	"templates.folders.edit_others": {"manager", "admin"},
	"templates.folders.delete_others": {"manager", "admin"},
	"templates.embed": {"manager", "admin"},
	# forms
	"forms.create": {"member", "manager", "admin"},
	"forms.view_others": {"member", "manager", "admin"}, # (i)
	"forms.duplicate_others": {"member", "manager", "admin"}, # (i)
	"forms.publish": {"member", "manager", "admin"}, # (i)
	"forms.edit_others": {"manager", "admin"},
	"forms.delete_others": {"manager", "admin"},
	"forms.publish_others": {"manager", "admin"}, # (i)
	"forms.responses.view": {"member", "manager", "admin"}, # own forms (i)
	"forms.responses.export_csv": {"member", "manager", "admin"}, # own forms (i)
	"forms.responses.view_others": {"manager", "admin"}, # (i)
	"forms.responses.export_csv_others": {"manager", "admin"}, # (i)
	# content library
	"content_library.create": {"member", "manager", "admin"},
	"content_library.view_others": {"member", "manager", "admin"},
	"content_library.folders.create": {"member", "manager", "admin"},
	"content_library.edit_others": {"manager", "admin"},
	"content_library.folders.edit_others": {"manager", "admin"}, # (i)
	# image library
	"images.add": {"member", "manager", "admin"},
	"images.delete_own": {"member", "manager", "admin"},
	"images.use_others": {"member", "manager", "admin"}, # (i)
	"images.delete_others": {"manager", "admin"}, # (i)
	# catalog
	"catalog.view_use": {"member", "manager", "admin"},
	"catalog.create": {"manager", "admin"},
	"catalog.delete": {"manager", "admin"},
	# content
	"content.restrict_editing": {"manager", "admin"},
	# contacts
	"contacts.view": {"member", "manager", "admin"}, # (i)
	"contacts.create": {"member", "manager", "admin"}, # (i)
	"contacts.delete": {"manager", "admin"}, # (i)
	# integrations
	"integrations.view_request": {"member", "manager", "admin"}, # (i)
	"integrations.toggle": {"admin"},
	# workspace
	"workspace.users.add": {"manager", "admin"},
	"workspace.users.remove": {"admin"}, # (i)
	"workspace.users.change_role": {"admin"}, # (i)
	"workspace.branding.edit": {"admin"},
	"workspace.settings.edit": {"admin"},
	# themes
	"themes.view_apply": {"member", "manager", "admin"}, # (i)
	"themes.create": {"manager", "admin"}, # (i)
	"themes.edit": {"manager", "admin"}, # (i)
	"themes.auto_update_workspace": {"admin"}, # (i)
	# content sharing
	"content_sharing.share": {"admin"}, # (i)
	# reports and dashboard
	"reports.access": {"manager", "admin"}, # (i)
	"reports.dashboard_filter_by_member": {"manager", "admin"}, # (i)
	"dashboard.workspace_activity": {"manager", "admin"}, # (i)
	# saved email messages
	"email_messages.create": {"member", "manager", "admin"}, # (i)
	"email_messages.use_others": {"member", "manager", "admin"}, # (i)
	"email_messages.edit_others": {"manager", "admin"}, # (i)
	"email_messages.delete_others": {"manager", "admin"}, # (i)
	# approvals
	"approvals.manage": {"manager", "admin"},
	"approvals.approve": {"manager", "admin"},
	# in-person signing
	"in_person_signing.host": {"member", "manager", "admin"}, # (i)
	# API
	"api.developer_dashboard": {"admin"},
}

# Every workspace permission id: what a custom role may list.
workspace_permissions := {p | some p, _ in matrix}

# The eight account permissions a role group may tick (seeds 000/001). The
# Account Owner holds all of them.
account_permissions := {
	"business_management",
	"billing",
	"purchase",
	"logs",
	"admin_logs",
	"domain_management",
	"activation_rules",
	"roles_and_permissions",
}

builtin_roles := {"admin", "manager", "member", "collaborator"}

# builtin_role_permissions is the matrix read by column: role -> permissions.
# (For readers and tests: a decision looks up matrix[permission] directly.)
builtin_role_permissions := {role: {p | some p, roles in matrix; role in roles} | some role in builtin_roles}
