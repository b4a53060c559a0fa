# The action table of model.md ("Actions: what apps ask"): every action name,
# its resource type and what it needs. workspace.rego and account.rego read
# these tables; nothing here decides anything by itself.
package pdp.authz

# workspace_actions are the actions on a resource inside a workspace
# (resource.properties.workspace; for type "workspace" the resource id).
# The Account Owner passes every requirement below except `approver`.
#
#   perm       the workspace permission the action needs
#   perm_from  the permission depends on a property: {property, default, perms: value -> permission}
#   others     the resource is owned (resource.properties.owner is required):
#              its owner may act on it with any workspace role, anyone else
#              needs this permission
#   own        ... unless this permission is named: then the owner needs it too
#   own_not    ... and a user holding this role may not act even on their own
#   shares     collaborator levels (resource.properties.collaborators) that grant it
#   also       a second permission needed as well
#   approver   the subject must be named in resource.properties.approvers
#   may_send   the subject must also be allowed document.send on the resource
#   target     resource.properties.target_user must name a user of the account;
#              when it names the Account Owner, only the owner may act (the
#              value says what, for the reason)
workspace_actions := {
	"document.create": {"perm_from": {
		"property": "source",
		"label": "document source",
		"default": "blank",
		"perms": {
			"blank": "documents.create_blank",
			"template": "documents.create_from_template",
			"shared_template": "documents.create_from_shared_template",
			"upload": "documents.create_uploaded",
			"public_template": "documents.create_from_public_template",
		},
	}},
	"document.view": {"others": "documents.view_others", "shares": {"view", "comment", "edit"}},
	"document.comment": {"others": "documents.view_others", "shares": {"comment", "edit"}},
	"document.edit": {"others": "documents.edit_others", "shares": {"edit"}},
	"document.delete": {"others": "documents.delete_others"},
	"document.send": {"others": "documents.send_others", "own_not": "collaborator"},
	"document.approve": {"perm": "approvals.approve", "approver": true},
	"document.host_in_person_signing": {"perm": "in_person_signing.host", "may_send": true},
	"document_folder.create": {"perm": "documents.folders.create"},
	"document_folder.view": {"others": "documents.folders.access_others", "shares": {"view", "comment", "edit"}},
	"document_folder.edit": {"others": "documents.folders.edit_others"},
	"document_folder.delete": {"others": "documents.folders.delete_others"},
	"template.create": {"perm_from": {
		"property": "kind",
		"label": "template kind",
		"default": "editable",
		"perms": {
			"editable": "templates.create_editable",
			"uploaded": "templates.create_uploaded",
		},
	}},
	"template.view": {"others": "templates.view_others"},
	"template.duplicate": {"others": "templates.duplicate_others", "also": "templates.create_editable"},
	"template.edit": {"others": "templates.edit_others"},
	"template.delete": {"others": "templates.delete_others"},
	"template.embed": {"perm": "templates.embed"},
	"template.share": {"perm": "content_sharing.share"},
	"template_folder.create": {"perm": "templates.folders.create"},
	"template_folder.view": {"others": "templates.folders.access_others"},
	"template_folder.edit": {"others": "templates.folders.edit_others"},
	"template_folder.delete": {"others": "templates.folders.delete_others"},
	"form.create": {"perm": "forms.create"},
	"form.view": {"others": "forms.view_others"},
	"form.duplicate": {"others": "forms.duplicate_others"},
	"form.edit": {"others": "forms.edit_others"},
	"form.delete": {"others": "forms.delete_others"},
	"form.publish": {"own": "forms.publish", "others": "forms.publish_others"},
	"form.view_responses": {"own": "forms.responses.view", "others": "forms.responses.view_others"},
	"form.export_responses": {"own": "forms.responses.export_csv", "others": "forms.responses.export_csv_others"},
	"content_item.create": {"perm": "content_library.create"},
	"content_item.view": {"others": "content_library.view_others"},
	"content_item.edit": {"others": "content_library.edit_others"},
	"content_item.delete": {"others": "content_library.edit_others"},
	"content_item.share": {"perm": "content_sharing.share"},
	"content_folder.create": {"perm": "content_library.folders.create"},
	"content_folder.edit": {"others": "content_library.folders.edit_others"},
	"image.add": {"perm": "images.add"},
	"image.use": {"others": "images.use_others"},
	"image.delete": {"own": "images.delete_own", "others": "images.delete_others"},
	"catalog_item.view": {"perm": "catalog.view_use"},
	"catalog_item.create": {"perm": "catalog.create"},
	"catalog_item.edit": {"perm": "catalog.create"},
	"catalog_item.delete": {"perm": "catalog.delete"},
	"content_block.restrict_editing": {"perm": "content.restrict_editing"},
	"contact.view": {"perm": "contacts.view"},
	"contact.create": {"perm": "contacts.create"},
	"contact.delete": {"perm": "contacts.delete"},
	"integration.view": {"perm": "integrations.view_request"},
	"integration.request": {"perm": "integrations.view_request"},
	"integration.toggle": {"perm": "integrations.toggle"},
	"theme.apply": {"perm": "themes.view_apply"},
	"theme.create": {"perm": "themes.create"},
	"theme.edit": {"perm": "themes.edit"},
	"theme.auto_update": {"perm": "themes.auto_update_workspace"},
	"email_message.create": {"perm": "email_messages.create"},
	"email_message.use": {"others": "email_messages.use_others"},
	"email_message.edit": {"others": "email_messages.edit_others"},
	"email_message.delete": {"others": "email_messages.delete_others"},
	"workspace.add_user": {"perm": "workspace.users.add", "target": "add the account owner to a workspace"},
	"workspace.remove_user": {"perm": "workspace.users.remove", "target": "remove the account owner from a workspace"},
	"workspace.change_user_role": {"perm": "workspace.users.change_role", "target": "change the account owner's workspace role"},
	"workspace.edit_branding": {"perm": "workspace.branding.edit"},
	"workspace.edit_settings": {"perm": "workspace.settings.edit"},
	"workspace.view_activity": {"perm": "dashboard.workspace_activity"},
	"workspace.view_reports": {"perm": "reports.access"},
	"workspace.filter_dashboard": {"perm": "reports.dashboard_filter_by_member"},
	"workspace.manage_approvals": {"perm": "approvals.manage"},
	"workspace.open_developer_dashboard": {"perm": "api.developer_dashboard"},
}

# account_actions are the actions on the account itself (and log.view).
#
#   owner_only    only the Account Owner may (the value says what, for the reason)
#   transfer      resource.properties.target_user: another user of the
#                 account who owns no other account (account.rego)
#   account_perm  the account permission needed (owner: always; others:
#                 from their role groups)
#   log           the logs rule on resource.properties.user (account.rego)
account_actions := {
	"account.create_workspace": {"owner_only": "create workspaces"},
	"account.toggle_addon": {"owner_only": "turn add-ons on or off"},
	"account.manage_custom_roles": {"owner_only": "manage custom roles"},
	"account.open_admin_panel": {"owner_only": "open the admin panel"},
	"account.transfer_ownership": {"owner_only": "transfer the account", "transfer": true},
	"company.customize": {"account_perm": "business_management"},
	"billing.view": {"account_perm": "billing"},
	"billing.manage": {"account_perm": "billing"},
	"purchase.manage": {"account_perm": "purchase"},
	"log.view": {"log": true},
	"domain.add": {"account_perm": "domain_management"},
	"domain.manage": {"account_perm": "domain_management"},
	"activation_rule.manage": {"account_perm": "activation_rules"},
	"role_group.create": {"account_perm": "roles_and_permissions"},
	"role_group.edit": {"account_perm": "roles_and_permissions"},
	"role_group.delete": {"account_perm": "roles_and_permissions"},
	"role_group.assign_users": {"account_perm": "roles_and_permissions"},
}

# actions is every action name; action search evaluates decision for each.
actions := {a | some a, _ in workspace_actions} | {a | some a, _ in account_actions}

# action_types: action -> the resource type it acts on, the word before the
# dot except for the account-level actions ("account") and log.view ("log").
# (For readers and tests: a decision reads its one action's type from the
# rule action_type, which calls resource_type_of once.)
action_types := {a: resource_type_of(a) | some a in actions}

resource_type_of(a) := object.get(account_prefixes, prefix, prefix) if prefix := substring(a, 0, indexof(a, "."))

# account_prefixes are the prefixes of the account-level actions, whose
# resource is the account (an object, not a set: one lookup per decision).
account_prefixes := {
	"account": "account",
	"company": "account",
	"billing": "account",
	"purchase": "account",
	"domain": "account",
	"activation_rule": "account",
	"role_group": "account",
}

# Nouns for reasons about owned resources: type -> [singular, plural].
type_nouns := {
	"document": ["document", "documents"],
	"document_folder": ["document folder", "document folders"],
	"template": ["template", "templates"],
	"template_folder": ["template folder", "template folders"],
	"form": ["form", "forms"],
	"content_item": ["content library item", "content library items"],
	"content_folder": ["content library folder", "content library folders"],
	"image": ["image", "images"],
	"email_message": ["email message", "email messages"],
}

# verb(action) is the action's verb as reasons say it: "view", "publish",
# "view the responses of".
verb(action) := object.get(verb_phrases, suffix, replace(suffix, "_", " ")) if {
	suffix := split(action, ".")[1]
}

verb_phrases := {
	"view_responses": "view the responses of",
	"export_responses": "export the responses of",
}
