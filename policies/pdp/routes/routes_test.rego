package pdp.routes_test

import data.pdp.routes

req(method, path) := {"method": method, "path": path, "headers": {}}

ws := "/accounts/acme/workspaces/sales"

test_document_routes if {
	r := routes.route with input as {"method": "GET", "path": concat("", [ws, "/documents/d1"]), "headers": {"x-pdp-owner": "carol", "x-pdp-collaborators": "dave=edit, erin = view"}}
	r == {"action": "document.view", "resource": {"type": "document", "id": "d1", "properties": {
		"account": "acme", "workspace": "sales", "owner": "carol",
		"collaborators": {"dave": "edit", "erin": "view"},
	}}}
}

test_methods_pick_actions if {
	every method, action in {"PUT": "document.edit", "PATCH": "document.edit", "DELETE": "document.delete", "HEAD": "document.view"} {
		routes.route.action == action with input as req(method, concat("", [ws, "/documents/d1"]))
	}
}

test_create_uses_collection_as_id_and_source_header if {
	r := routes.route with input as {"method": "POST", "path": concat("", [ws, "/documents"]), "headers": {"x-pdp-source": "template"}}
	r.action == "document.create"
	r.resource.id == "documents"
	r.resource.properties == {"account": "acme", "workspace": "sales", "source": "template"}
}

test_only_listed_headers_are_used if {
	# contacts declare no header properties: an owner header is ignored
	r := routes.route with input as {"method": "GET", "path": concat("", [ws, "/contacts"]), "headers": {"x-pdp-owner": "mallory"}}
	r.resource.properties == {"account": "acme", "workspace": "sales"}
}

test_conflicting_collaborator_levels_are_dropped if {
	r := routes.route with input as {"method": "GET", "path": concat("", [ws, "/documents/d1"]), "headers": {"x-pdp-collaborators": "dave=edit,dave=view,erin=comment,junk"}}
	r.resource.properties.collaborators == {"erin": "comment"}
}

test_approvers_header if {
	r := routes.route with input as {"method": "POST", "path": concat("", [ws, "/documents/d1/approve"]), "headers": {"x-pdp-approvers": "alice, bob,,", "x-pdp-owner": "carol"}}
	r.resource.properties.approvers == ["alice", "bob"]
	r.resource.properties.owner == "carol"
}

test_workspace_member_routes if {
	r := routes.route with input as req("PUT", concat("", [ws, "/members/alice"]))
	r == {"action": "workspace.change_user_role", "resource": {"type": "workspace", "id": "sales", "properties": {"account": "acme", "workspace": "sales", "target_user": "alice"}}}
	routes.route.action == "workspace.add_user" with input as req("POST", concat("", [ws, "/members/bob"]))
	routes.route.action == "workspace.remove_user" with input as req("DELETE", concat("", [ws, "/members/bob"]))
}

test_account_routes if {
	r := routes.route with input as req("GET", "/accounts/acme/billing")
	r == {"action": "billing.view", "resource": {"type": "account", "id": "acme", "properties": {"account": "acme"}}}
	t := routes.route with input as req("POST", "/accounts/acme/transfer-ownership/carol")
	t.resource.properties == {"account": "acme", "target_user": "carol"}
}

test_log_route if {
	r := routes.route with input as req("GET", "/accounts/acme/logs/bob")
	r == {"action": "log.view", "resource": {"type": "log", "id": "bob", "properties": {"account": "acme", "user": "bob"}}}
}

test_unknown_routes_are_undefined if {
	not routes.route with input as req("GET", "/")
	not routes.route with input as req("GET", "/accounts/acme")
	not routes.route with input as req("POST", concat("", [ws, "/documents/d1"]))
	not routes.route with input as req("GET", concat("", [ws, "/documents/d1/extra/segments"]))
	not routes.route with input as req("GET", "/accounts//workspaces/sales/documents/d1")
}

test_every_row_is_reachable if {
	# each row's own pattern (with values for its parameters) maps to that row's action
	every row in routes.routes {
		path := concat("/", [seg |
			some p in split(row.path, "/")
			seg := fill(p)
		])
		r := routes.route with input as req(row.method, path)
		r.action == row.action
	}
}

fill(p) := "x" if routes.is_param(p)

fill(p) := p if not routes.is_param(p)

test_every_action_exists_in_the_model if {
	every row in routes.routes {
		row.action in data.pdp.authz.actions
	}
}
