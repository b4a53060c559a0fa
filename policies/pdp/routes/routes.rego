# Route table for /v1/forward-auth: a proxied request's method and path are
# mapped to an action and resource, which the role model (pdp.authz) then
# decides like any AuthZEN request. The first matching row wins; a request
# no row matches is denied.
#
# Path patterns use {name} segments. {account} and {workspace} become the
# resource's account and workspace; `id` names the segment that is the
# resource id (else the last literal segment is: "documents" for a create);
# `params` maps other segments to properties; `headers` lists the
# properties the app may supply in X-Pdp-* headers because the path cannot
# carry them (see header_value below).
package pdp.routes

routes := [
	# Documents
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/documents", "action": "document.create", "type": "document", "headers": ["source"]},
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/documents/{id}", "action": "document.view", "type": "document", "id": "id", "headers": ["owner", "collaborators"]},
	{"method": "PUT", "path": "/accounts/{account}/workspaces/{workspace}/documents/{id}", "action": "document.edit", "type": "document", "id": "id", "headers": ["owner", "collaborators"]},
	{"method": "PATCH", "path": "/accounts/{account}/workspaces/{workspace}/documents/{id}", "action": "document.edit", "type": "document", "id": "id", "headers": ["owner", "collaborators"]},
	{"method": "DELETE", "path": "/accounts/{account}/workspaces/{workspace}/documents/{id}", "action": "document.delete", "type": "document", "id": "id", "headers": ["owner", "collaborators"]},
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/documents/{id}/comments", "action": "document.comment", "type": "document", "id": "id", "headers": ["owner", "collaborators"]},
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/documents/{id}/send", "action": "document.send", "type": "document", "id": "id", "headers": ["owner", "collaborators"]},
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/documents/{id}/approve", "action": "document.approve", "type": "document", "id": "id", "headers": ["owner", "approvers"]},
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/documents/{id}/in-person-signing", "action": "document.host_in_person_signing", "type": "document", "id": "id", "headers": ["owner", "collaborators"]},
	# Document folders
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/document-folders", "action": "document_folder.create", "type": "document_folder"},
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/document-folders/{id}", "action": "document_folder.view", "type": "document_folder", "id": "id", "headers": ["owner", "collaborators"]},
	{"method": "PUT", "path": "/accounts/{account}/workspaces/{workspace}/document-folders/{id}", "action": "document_folder.edit", "type": "document_folder", "id": "id", "headers": ["owner", "collaborators"]},
	{"method": "DELETE", "path": "/accounts/{account}/workspaces/{workspace}/document-folders/{id}", "action": "document_folder.delete", "type": "document_folder", "id": "id", "headers": ["owner", "collaborators"]},
	# Templates
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/templates", "action": "template.create", "type": "template", "headers": ["kind"]},
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/templates/{id}", "action": "template.view", "type": "template", "id": "id", "headers": ["owner"]},
	{"method": "PUT", "path": "/accounts/{account}/workspaces/{workspace}/templates/{id}", "action": "template.edit", "type": "template", "id": "id", "headers": ["owner"]},
	{"method": "DELETE", "path": "/accounts/{account}/workspaces/{workspace}/templates/{id}", "action": "template.delete", "type": "template", "id": "id", "headers": ["owner"]},
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/templates/{id}/duplicate", "action": "template.duplicate", "type": "template", "id": "id", "headers": ["owner"]},
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/templates/{id}/share", "action": "template.share", "type": "template", "id": "id", "headers": ["owner"]},
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/templates/{id}/embed", "action": "template.embed", "type": "template", "id": "id", "headers": ["owner"]},
	# Forms
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/forms", "action": "form.create", "type": "form"},
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/forms/{id}", "action": "form.view", "type": "form", "id": "id", "headers": ["owner"]},
	{"method": "PUT", "path": "/accounts/{account}/workspaces/{workspace}/forms/{id}", "action": "form.edit", "type": "form", "id": "id", "headers": ["owner"]},
	{"method": "DELETE", "path": "/accounts/{account}/workspaces/{workspace}/forms/{id}", "action": "form.delete", "type": "form", "id": "id", "headers": ["owner"]},
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/forms/{id}/publish", "action": "form.publish", "type": "form", "id": "id", "headers": ["owner"]},
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/forms/{id}/responses", "action": "form.view_responses", "type": "form", "id": "id", "headers": ["owner"]},
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/forms/{id}/responses.csv", "action": "form.export_responses", "type": "form", "id": "id", "headers": ["owner"]},
	# Contacts and catalog (no owner: the path says everything)
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/contacts", "action": "contact.view", "type": "contact"},
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/contacts", "action": "contact.create", "type": "contact"},
	{"method": "DELETE", "path": "/accounts/{account}/workspaces/{workspace}/contacts/{id}", "action": "contact.delete", "type": "contact", "id": "id"},
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/catalog/{id}", "action": "catalog_item.view", "type": "catalog_item", "id": "id"},
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/catalog", "action": "catalog_item.create", "type": "catalog_item"},
	{"method": "PUT", "path": "/accounts/{account}/workspaces/{workspace}/catalog/{id}", "action": "catalog_item.edit", "type": "catalog_item", "id": "id"},
	{"method": "DELETE", "path": "/accounts/{account}/workspaces/{workspace}/catalog/{id}", "action": "catalog_item.delete", "type": "catalog_item", "id": "id"},
	# The workspace itself
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/reports", "action": "workspace.view_reports", "type": "workspace", "id": "workspace"},
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/activity", "action": "workspace.view_activity", "type": "workspace", "id": "workspace"},
	{"method": "PUT", "path": "/accounts/{account}/workspaces/{workspace}/settings", "action": "workspace.edit_settings", "type": "workspace", "id": "workspace"},
	{"method": "PUT", "path": "/accounts/{account}/workspaces/{workspace}/branding", "action": "workspace.edit_branding", "type": "workspace", "id": "workspace"},
	{"method": "GET", "path": "/accounts/{account}/workspaces/{workspace}/developer-dashboard", "action": "workspace.open_developer_dashboard", "type": "workspace", "id": "workspace"},
	{"method": "POST", "path": "/accounts/{account}/workspaces/{workspace}/members/{user}", "action": "workspace.add_user", "type": "workspace", "id": "workspace", "params": {"user": "target_user"}},
	{"method": "PUT", "path": "/accounts/{account}/workspaces/{workspace}/members/{user}", "action": "workspace.change_user_role", "type": "workspace", "id": "workspace", "params": {"user": "target_user"}},
	{"method": "DELETE", "path": "/accounts/{account}/workspaces/{workspace}/members/{user}", "action": "workspace.remove_user", "type": "workspace", "id": "workspace", "params": {"user": "target_user"}},
	# The account
	{"method": "POST", "path": "/accounts/{account}/workspaces", "action": "account.create_workspace", "type": "account", "id": "account"},
	{"method": "POST", "path": "/accounts/{account}/transfer-ownership/{user}", "action": "account.transfer_ownership", "type": "account", "id": "account", "params": {"user": "target_user"}},
	{"method": "PUT", "path": "/accounts/{account}/company", "action": "company.customize", "type": "account", "id": "account"},
	{"method": "GET", "path": "/accounts/{account}/billing", "action": "billing.view", "type": "account", "id": "account"},
	{"method": "PUT", "path": "/accounts/{account}/billing", "action": "billing.manage", "type": "account", "id": "account"},
	{"method": "POST", "path": "/accounts/{account}/purchases", "action": "purchase.manage", "type": "account", "id": "account"},
	{"method": "POST", "path": "/accounts/{account}/domains", "action": "domain.add", "type": "account", "id": "account"},
	{"method": "PUT", "path": "/accounts/{account}/domains/{domain}", "action": "domain.manage", "type": "account", "id": "account"},
	{"method": "PUT", "path": "/accounts/{account}/activation-rules/{rule}", "action": "activation_rule.manage", "type": "account", "id": "account"},
	{"method": "POST", "path": "/accounts/{account}/role-groups", "action": "role_group.create", "type": "account", "id": "account"},
	{"method": "PUT", "path": "/accounts/{account}/role-groups/{group}", "action": "role_group.edit", "type": "account", "id": "account"},
	{"method": "DELETE", "path": "/accounts/{account}/role-groups/{group}", "action": "role_group.delete", "type": "account", "id": "account"},
	{"method": "PUT", "path": "/accounts/{account}/role-groups/{group}/members/{user}", "action": "role_group.assign_users", "type": "account", "id": "account"},
	{"method": "GET", "path": "/accounts/{account}/logs/{user}", "action": "log.view", "type": "log", "id": "user", "params": {"user": "user"}},
]

# route is the mapping of the first row that matches input.method and input.path.
route := mapping(routes[first], bound) if {
	first := matching[0]
	bound := params(routes[first])
}

# matching lists the indexes of the rows that match, in table order.
matching := [i | some i, row in routes; params(row)]

# The request's method (HEAD is answered like GET) and path segments.
request_method := "GET" if input.method == "HEAD"

else := input.method

request_segments := split(trim(input.path, "/"), "/")

# params binds a row's {name} segments to the request's, when the row matches.
params(row) := {trim(p, "{}"): request_segments[i] | some i, p in pattern; is_param(p)} if {
	row.method == request_method
	pattern := split(trim(row.path, "/"), "/")
	count(pattern) == count(request_segments)
	every i, p in pattern {
		segment_matches(p, request_segments[i])
	}
}

is_param(p) if {
	startswith(p, "{")
	endswith(p, "}")
}

segment_matches(p, s) if {
	is_param(p)
	s != ""
}

segment_matches(p, s) if p == s

mapping(row, bound) := {
	"action": row.action,
	"resource": {
		"type": row.type,
		"id": resource_id(row, bound),
		"properties": object.union_n([
			{k: bound[k] | some k in {"account", "workspace"}; bound[k]},
			{prop: bound[p] | some p, prop in object.get(row, "params", {})},
			{name: v | some name in object.get(row, "headers", []); v := header_value(name)},
		]),
	},
}

resource_id(row, bound) := bound[row.id]

resource_id(row, _) := last if {
	not row.id
	segs := split(trim(row.path, "/"), "/")
	last := segs[count(segs) - 1]
}

# Properties the path cannot carry, from headers the app (or the proxy) sets.
header_value("owner") := input.headers["x-pdp-owner"]

header_value("target_user") := input.headers["x-pdp-target-user"]

header_value("source") := input.headers["x-pdp-source"]

header_value("kind") := input.headers["x-pdp-kind"]

# X-Pdp-Approvers: alice, bob
header_value("approvers") := [a |
	some raw in split(input.headers["x-pdp-approvers"], ",")
	a := trim_space(raw)
	a != ""
]

# X-Pdp-Collaborators: dave=edit, erin=view. A name given two different
# levels is dropped (no share), never guessed.
header_value("collaborators") := {name: level |
	some [name, _] in collaborator_pairs
	levels := {l | some [n, l] in collaborator_pairs; n == name}
	count(levels) == 1
	some level in levels
}

collaborator_pairs := [[trim_space(kv[0]), trim_space(kv[1])] |
	some pair in split(input.headers["x-pdp-collaborators"], ",")
	kv := split(pair, "=")
	count(kv) == 2
]
