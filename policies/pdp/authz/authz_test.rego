package pdp.authz_test

import data.pdp.authz

# --- The decision is always defined and well-formed ------------------------------

# malformed: input -> the one reason it is denied with.
malformed := [
	[{}, "missing subject"],
	["a string", "missing subject"],
	[[1, 2], "missing subject"],
	[{"subject": "bob"}, "subject must be an object"],
	[{"subject": {}}, "missing subject.type"],
	[{"subject": {"type": 1, "id": "admin"}}, "missing subject.type"],
	[{"subject": {"type": "group", "id": "admin"}}, `subject type "group" is not supported: want "user"`],
	[{"subject": {"type": "user"}}, "missing subject.id"],
	[{"subject": {"type": "user", "id": ""}}, "missing subject.id"],
	[{"subject": {"type": "user", "id": 42}}, "missing subject.id"],
	[{"subject": {"type": "user", "id": "admin"}}, "missing action"],
	[{"subject": {"type": "user", "id": "admin"}, "action": "contact.view"}, "action must be an object"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {}}, "missing action.name"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": ["contact.view"]}}, "missing action.name"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "foo.bar"}}, `unknown action "foo.bar"`],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}}, "missing resource"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}, "resource": "c1"}, "resource must be an object"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}, "resource": {"id": "c1"}}, "missing resource.type"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}, "resource": {"type": "contact"}}, "missing resource.id"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}, "resource": {"type": "contact", "id": "c1", "properties": "x"}}, "resource.properties must be an object"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}, "resource": {"type": "contact", "id": "c1", "properties": null}}, "resource.properties must be an object"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}, "resource": {"type": "contact", "id": "c1", "properties": false}}, "resource.properties must be an object"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}, "resource": {"type": "contact", "id": "c1"}}, "missing resource.properties.account"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}, "resource": {"type": "contact", "id": "c1", "properties": {"account": 7}}}, "missing resource.properties.account"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}, "resource": {"type": "contact", "id": "c1", "properties": {"account": "nope"}}}, `unknown account "nope"`],
	[{"subject": {"type": "user", "id": "zed"}, "action": {"name": "contact.view"}, "resource": {"type": "contact", "id": "c1", "properties": {"account": "t"}}}, `unknown user "zed" in account "t"`],
	[{"subject": {"type": "user", "id": "vo"}, "action": {"name": "contact.view"}, "resource": {"type": "contact", "id": "c1", "properties": {"account": "t"}}}, `unknown user "vo" in account "t"`],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}, "resource": {"type": "contact", "id": "c1", "properties": {"account": "t"}}}, "missing resource.properties.workspace"],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "contact.view"}, "resource": {"type": "contact", "id": "c1", "properties": {"account": "t", "workspace": "legal"}}}, `unknown workspace "legal" in account "t"`],
	[{"subject": {"type": "user", "id": "outsider"}, "action": {"name": "contact.view"}, "resource": {"type": "contact", "id": "c1", "properties": {"account": "t", "workspace": "w"}}}, `no role in workspace "w"`],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "billing.view"}, "resource": {"type": "account", "id": "nope"}}, `unknown account "nope"`],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "workspace.edit_settings"}, "resource": {"type": "workspace", "id": "w", "properties": {"account": "t", "workspace": "w2"}}}, `resource.properties.workspace "w2" does not match resource.id "w"`],
	[{"subject": {"type": "user", "id": "admin"}, "action": {"name": "workspace.edit_settings"}, "resource": {"type": "workspace", "id": "nope", "properties": {"account": "t"}}}, `unknown workspace "nope" in account "t"`],
]

test_malformed_requests_deny_with_one_reason if {
	every case in malformed {
		[request, reason] := case
		decide_input(request) == {"allow": false, "reasons": [reason]}
	}
}

# request_ok (the fast path) holds exactly when first_problem finds nothing:
# false for every malformed request, true for well-formed ones of each kind.
test_request_ok_agrees_with_first_problem if {
	every case in malformed {
		not authz.request_ok with input as case[0] with data.accounts as accounts
		authz.first_problem == case[1] with input as case[0] with data.accounts as accounts
	}
	every request in [
		req("admin", "contact.view", {}),
		req("owner", "contact.view", {}),
		req("admin", "billing.view", {}),
		req("outsider", "billing.view", {}),
		{"subject": {"type": "user", "id": "admin"}, "action": {"name": "billing.view"}, "resource": {"type": "account", "id": "t"}},
		{"subject": {"type": "user", "id": "admin"}, "action": {"name": "workspace.edit_settings"}, "resource": {"type": "workspace", "id": "w", "properties": {"account": "t"}}},
	] {
		authz.request_ok with input as request with data.accounts as accounts
		not authz.first_problem with input as request with data.accounts as accounts
	}
}

test_no_input_at_all if {
	authz.decision == {"allow": false, "reasons": ["missing subject"]} with data.accounts as accounts
}

test_no_accounts_at_all if {
	d := authz.decision with input as req("admin", "contact.view", {}) with data.accounts as {}
	d == {"allow": false, "reasons": [`unknown account "t"`]}
	e := authz.decision with input as req("admin", "contact.view", {}) with data.accounts as "broken"
	e.allow == false
}

test_context_is_ignored if {
	r := object.union(req("admin", "contact.view", {}), {"context": {"allow": true, "role": "owner"}})
	decide_input(r).reasons == ["admin holds contacts.view"]
}

# Every action, by users of every kind, on resources of every kind: the
# decision always has the contract's shape, with sorted non-empty reasons.
# (One user per test keeps each test short under `opa test -v`.)
sweep(user, props) if {
	every action in authz.actions {
		well_formed(decide(user, action, props))
	}
}

test_well_formed_owner_without_properties if sweep("owner", {})

test_well_formed_member_on_others_resources if sweep("member", full_props("member"))

test_well_formed_collaborator_on_own_resources if {
	sweep("collab", object.union(full_props("collab"), {"owner": "collab", "user": "collab"}))
}

test_well_formed_reviewer_on_shared_resources if {
	sweep("reviewer", {"owner": "manager", "collaborators": {"reviewer": "comment"}, "user": "admin", "source": "upload"})
}

test_well_formed_user_without_role if sweep("outsider", full_props("outsider"))

test_well_formed_grouped_user if sweep("grouped", {"user": "auditor", "target_user": "manager"})

test_well_formed_unknown_user if sweep("zed", full_props("zed"))

# --- Who is who --------------------------------------------------------------

test_user_ids_are_scoped_per_account if {
	# t's owner is not u's owner, though t's admin is
	allowed("owner", "billing.view", {"account": "t"})
	allowed("admin", "billing.view", {"account": "u"})
	denied("admin", "billing.view", {"account": "t"})
}

test_owner_without_a_role_still_needs_the_user_entry if {
	broken := object.union(accounts, {"t": {"owner": "ghost"}})
	d := authz.decision with input as req("ghost", "contact.view", {}) with data.accounts as broken
	d.reasons == [`unknown user "ghost" in account "t"`]
}

# --- Subject search ------------------------------------------------------------

test_subjects if {
	users_of_t := {u | some u, _ in accounts.t.users}
	authz.subjects == users_of_t with input as req("admin", "document.view", {}) with data.accounts as accounts
	authz.subjects == users_of_t with input as {"resource": {"type": "account", "id": "t"}} with data.accounts as accounts
	authz.subjects == {"admin", "member"} with input as {"resource": {"type": "document", "id": "d", "properties": {"account": "u"}}} with data.accounts as accounts
}

test_subjects_empty_without_an_account if {
	every i in [
		{},
		{"resource": "x"},
		{"resource": {"type": "document", "id": "d"}},
		{"resource": {"type": "document", "id": "d", "properties": {"account": "nope"}}},
		{"resource": {"type": "account", "id": "t", "properties": {"account": "u"}}},
	] {
		authz.subjects == set() with input as i with data.accounts as accounts
	}
}

# --- The shipped data/ (no `with data`) ---------------------------------------

# acme decides a request in account acme (workspace sales unless props say
# otherwise) against the shipped data.
acme(user, action, type, props) := d if {
	full := object.union({"account": "acme", "workspace": "sales"}, props)
	d := authz.decision with input as {
		"subject": {"type": "user", "id": user},
		"action": {"name": action},
		"resource": {"type": type, "id": resource_id(type, full), "properties": full},
	}
}

test_shipped_data if {
	# the README's examples
	acme("dave", "document.edit", "document", {"owner": "carol", "collaborators": {"dave": "edit"}}) == {"allow": true, "reasons": ["document shared with dave for edit"]}
	acme("dave", "document.edit", "document", {"owner": "carol"}) == {"allow": false, "reasons": ["member may not edit documents owned by others"]}
	acme("carol", "document.view", "document", {"owner": "dave"}).reasons == ["manager holds documents.view_others"]
	acme("carol", "document.view", "document", {"workspace": "legal", "owner": "dave"}).allow == false
	acme("frank", "document.comment", "document", {"owner": "dave"}).reasons == [`custom role "contract_reviewer" holds documents.view_others`]
	acme("alice", "workspace.edit_settings", "workspace", {"workspace": "legal"}).reasons == [`account owner of "acme"`]
	acme("bob", "domain.add", "account", {}).reasons == [`role group "it_admins" grants domain_management`]
	acme("erin", "billing.view", "account", {}).reasons == ["no role group of erin grants billing"]
	acme("ivan", "log.view", "log", {"user": "bob"}).allow == true
	acme("heidi", "log.view", "log", {"user": "bob"}).allow == false
	acme("heidi", "log.view", "log", {"user": "carol"}).allow == true
	acme("alice", "account.transfer_ownership", "account", {"target_user": "carol"}).allow == true
	acme("alice", "account.transfer_ownership", "account", {"target_user": "bob"}).reasons == [`target user "bob" has the same id as the owner of account "globex"`]
	acme("alice", "account.transfer_ownership", "account", {"target_user": "robert"}).reasons == [`target user "robert" has the same email as the owner of account "globex"`]
}

test_shipped_data_matches_the_catalogue if {
	count(data.accounts) >= 2
	every _, account in data.accounts {
		account.users[account.owner]
		every _, role in account.custom_roles {
			every p in role.permissions {
				p in authz.workspace_permissions
			}
		}
		every _, group in account.role_groups {
			every p in group.permissions {
				p in authz.account_permissions
			}
			every m in group.members {
				account.users[m]
			}
		}
		every _, ws in account.workspaces {
			every user, role in ws.members {
				account.users[user]
				known_role(account, role)
			}
		}
	}
}

known_role(_, role) if role in authz.builtin_roles

known_role(account, role) if is_object(account.custom_roles[role])

# --- Deny by default -------------------------------------------------------------

test_an_action_without_requirements_is_denied if {
	# a table entry that names no requirement grants nothing
	emptied := object.union(object.remove(authz.workspace_actions, ["contact.view"]), {"contact.view": {}})
	d := authz.decision with input as req("owner", "contact.view", {}) with data.accounts as accounts with authz.workspace_actions as emptied
	d == {"allow": false, "reasons": ["no rule grants this request"]}
}

test_role_label_without_a_role if {
	authz.role_label == "no workspace role" with input as req("owner", "contact.view", {}) with data.accounts as accounts
}
