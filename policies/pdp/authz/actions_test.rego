package pdp.authz_test

import data.pdp.authz

# spec_actions is model.md's action table copied out, independently of
# actions.rego: action -> the resource type the spec gives it.
spec_actions := {
	"document.create": "document",
	"document.view": "document",
	"document.comment": "document",
	"document.edit": "document",
	"document.delete": "document",
	"document.send": "document",
	"document.approve": "document",
	"document.host_in_person_signing": "document",
	"document_folder.create": "document_folder",
	"document_folder.view": "document_folder",
	"document_folder.edit": "document_folder",
	"document_folder.delete": "document_folder",
	"template.create": "template",
	"template.view": "template",
	"template.duplicate": "template",
	"template.edit": "template",
	"template.delete": "template",
	"template.embed": "template",
	"template.share": "template",
	"template_folder.create": "template_folder",
	"template_folder.view": "template_folder",
	"template_folder.edit": "template_folder",
	"template_folder.delete": "template_folder",
	"form.create": "form",
	"form.view": "form",
	"form.duplicate": "form",
	"form.edit": "form",
	"form.delete": "form",
	"form.publish": "form",
	"form.view_responses": "form",
	"form.export_responses": "form",
	"content_item.create": "content_item",
	"content_item.view": "content_item",
	"content_item.edit": "content_item",
	"content_item.delete": "content_item",
	"content_item.share": "content_item",
	"content_folder.create": "content_folder",
	"content_folder.edit": "content_folder",
	"image.add": "image",
	"image.use": "image",
	"image.delete": "image",
	"catalog_item.view": "catalog_item",
	"catalog_item.create": "catalog_item",
	"catalog_item.edit": "catalog_item",
	"catalog_item.delete": "catalog_item",
	"content_block.restrict_editing": "content_block",
	"contact.view": "contact",
	"contact.create": "contact",
	"contact.delete": "contact",
	"integration.view": "integration",
	"integration.request": "integration",
	"integration.toggle": "integration",
	"theme.apply": "theme",
	"theme.create": "theme",
	"theme.edit": "theme",
	"theme.auto_update": "theme",
	"email_message.create": "email_message",
	"email_message.use": "email_message",
	"email_message.edit": "email_message",
	"email_message.delete": "email_message",
	"workspace.add_user": "workspace",
	"workspace.remove_user": "workspace",
	"workspace.change_user_role": "workspace",
	"workspace.edit_branding": "workspace",
	"workspace.edit_settings": "workspace",
	"workspace.view_activity": "workspace",
	"workspace.view_reports": "workspace",
	"workspace.filter_dashboard": "workspace",
	"workspace.manage_approvals": "workspace",
	"workspace.open_developer_dashboard": "workspace",
	"account.create_workspace": "account",
	"account.toggle_addon": "account",
	"account.manage_custom_roles": "account",
	"account.open_admin_panel": "account",
	"account.transfer_ownership": "account",
	"company.customize": "account",
	"billing.view": "account",
	"billing.manage": "account",
	"purchase.manage": "account",
	"log.view": "log",
	"domain.add": "account",
	"domain.manage": "account",
	"activation_rule.manage": "account",
	"role_group.create": "account",
	"role_group.edit": "account",
	"role_group.delete": "account",
	"role_group.assign_users": "account",
}

test_actions_are_the_spec_table if {
	authz.actions == {a | some a, _ in spec_actions}
	count(authz.actions) == 87
}

test_action_resource_types if {
	authz.action_types == spec_actions
}

test_actions_are_workspace_or_account_actions if {
	ws := {a | some a, _ in authz.workspace_actions}
	acct := {a | some a, _ in authz.account_actions}
	count(ws & acct) == 0
	every a in acct {
		spec_actions[a] in {"account", "log"}
	}
	every a in ws {
		not spec_actions[a] in {"account", "log"}
	}
}

test_every_workspace_action_names_catalogue_permissions if {
	every _, spec in authz.workspace_actions {
		every key in {"perm", "others", "own", "also"} {
			object.get(spec, key, "documents.view_others") in authz.workspace_permissions
		}
		every _, p in object.get(spec, ["perm_from", "perms"], {}) {
			p in authz.workspace_permissions
		}
	}
	every _, spec in authz.account_actions {
		object.get(spec, "account_perm", "logs") in authz.account_permissions
	}
}

test_every_action_is_decided_somehow if {
	# each action has at least one requirement: an action with none would
	# deny with the fallback reason, which no action should need
	every action, _ in spec_actions {
		d := decide("owner", action, object.union(full_props("owner"), {"user": "admin"}))
		d.reasons != ["no rule grants this request"]
	}
}

test_action_type_mismatch if {
	d := decide_input({
		"subject": {"type": "user", "id": "admin"},
		"action": {"name": "document.view"},
		"resource": {"type": "form", "id": "f", "properties": {"account": "t", "workspace": "w", "owner": "admin"}},
	})
	d == {"allow": false, "reasons": [`action "document.view" needs a resource of type "document", not "form"`]}

	# account-level actions act on the account, log.view on a log
	billing := decide_input({
		"subject": {"type": "user", "id": "owner"},
		"action": {"name": "billing.view"},
		"resource": {"type": "billing", "id": "t", "properties": {"account": "t"}},
	})
	billing.reasons == [`action "billing.view" needs a resource of type "account", not "billing"`]
	logs := decide_input({
		"subject": {"type": "user", "id": "owner"},
		"action": {"name": "log.view"},
		"resource": {"type": "account", "id": "t", "properties": {"user": "owner"}},
	})
	logs.reasons == [`action "log.view" needs a resource of type "log", not "account"`]
}

test_verbs if {
	authz.verb("form.view_responses") == "view the responses of"
	authz.verb("document.host_in_person_signing") == "host in person signing"
}
