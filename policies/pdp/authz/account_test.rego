package pdp.authz_test

# --- Owner-only actions -------------------------------------------------------

owner_only := {
	"account.create_workspace": "create workspaces",
	"account.toggle_addon": "turn add-ons on or off",
	"account.manage_custom_roles": "manage custom roles",
	"account.open_admin_panel": "open the admin panel",
}

test_owner_only_actions if {
	every action, what in owner_only {
		d := decide("owner", action, {})
		d == {"allow": true, "reasons": [`account owner of "t"`]}

		# not even an admin of every workspace, or a member of every group
		every user in {"admin", "grouped", "auditor", "member"} {
			decide(user, action, {}) == {"allow": false, "reasons": [sprintf("only the account owner may %s", [what])]}
		}
	}
}

# --- Account permissions from role groups ------------------------------------

# account_perm_table: action -> the account permission model.md names.
account_perm_table := {
	"company.customize": "business_management",
	"billing.view": "billing",
	"billing.manage": "billing",
	"purchase.manage": "purchase",
	"domain.add": "domain_management",
	"domain.manage": "domain_management",
	"activation_rule.manage": "activation_rules",
	"role_group.create": "roles_and_permissions",
	"role_group.edit": "roles_and_permissions",
	"role_group.delete": "roles_and_permissions",
	"role_group.assign_users": "roles_and_permissions",
}

# group_holders: account permission -> users of t whose role groups grant it.
group_holders := {
	"business_management": set(),
	"billing": {"grouped"},
	"purchase": set(),
	"logs": {"grouped", "member"},
	"admin_logs": {"auditor"},
	"domain_management": set(),
	"activation_rules": set(),
	"roles_and_permissions": set(),
}

test_account_permission_actions if {
	every action, perm in account_perm_table {
		allowed_because("owner", action, {}, `account owner of "t"`)
		every user in {"admin", "manager", "member", "member2", "grouped", "auditor", "outsider"} {
			d := decide(user, action, {})
			d.allow == in_set(user, group_holders[perm])
			well_formed(d)
		}
	}
}

test_account_permission_reasons if {
	decide("grouped", "billing.view", {}) == {"allow": true, "reasons": [`role group "billing_g" grants billing`]}
	decide("member", "billing.view", {}) == {"allow": false, "reasons": ["no role group of member grants billing"]}
	decide("admin", "domain.add", {}).reasons == ["no role group of admin grants domain_management"]
}

test_groups_add_up if {
	# grouped is in billing_g and logs_g (and the empty group)
	allowed("grouped", "billing.manage", {})
	allowed_because("grouped", "log.view", {"user": "collab"}, `role group "logs_g" grants logs`)
}

test_empty_group_grants_nothing if {
	every action, _ in account_perm_table {
		denied("member2", action, {})
		denied("outsider", action, {})
	}
}

test_workspace_roles_grant_no_account_permission if {
	every action, _ in account_perm_table {
		denied("admin", action, {})
		denied("w2admin", action, {})
	}
}

test_account_resource_naming if {
	# the account is the resource id; a matching properties.account is fine
	allowed("grouped", "billing.view", {"account": "t"})
	d := decide_input({
		"subject": {"type": "user", "id": "grouped"},
		"action": {"name": "billing.view"},
		"resource": {"type": "account", "id": "t", "properties": {"account": "u"}},
	})
	d == {"allow": false, "reasons": [`resource.properties.account "u" does not match resource.id "t"`]}
}

# --- log.view -----------------------------------------------------------------

log(user) := {"user": user}

test_own_log_always if {
	every user in {"collab", "outsider", "nobody", "member2", "admin"} {
		decide(user, "log.view", log(user)) == {"allow": true, "reasons": ["own log"]}
	}
}

test_administrator_logs_need_admin_logs if {
	# owner; admin of a workspace (w, or only w2); member of a group with a
	# permission (member is in logs_g): administrator accounts
	every target in {"owner", "admin", "w2admin", "member", "grouped"} {
		allowed("auditor", "log.view", log(target))
		denied_because("collab", "log.view", log(target), sprintf("no role group of collab grants admin_logs, needed for the logs of administrator account %q", [target]))
	}
	denied_because("grouped", "log.view", log("admin"), `no role group of grouped grants admin_logs, needed for the logs of administrator account "admin"`)
	allowed_because("owner", "log.view", log("admin"), `account owner of "t"`)
}

test_other_logs_need_logs if {
	# not administrator accounts: no admin role, only the empty group
	every target in {"collab", "manager", "member2", "outsider", "reviewer"} {
		allowed_because("grouped", "log.view", log(target), `role group "logs_g" grants logs`)
		denied_because("auditor", "log.view", log(target), sprintf("no role group of auditor grants logs, needed for the logs of %q", [target]))
		allowed("owner", "log.view", log(target))
	}
}

test_log_needs_a_user_of_the_account if {
	denied_because("owner", "log.view", {}, "missing resource.properties.user")
	denied_because("owner", "log.view", {"user": 3}, "missing resource.properties.user")
	decide("owner", "log.view", log("vo")) == {"allow": false, "reasons": [`unknown log user "vo" in account "t"`]}
}

# --- account.transfer_ownership -------------------------------------------------

transfer(target) := {"target_user": target}

test_transfer_ownership if {
	decide("owner", "account.transfer_ownership", transfer("manager")) == {"allow": true, "reasons": [`account owner of "t"`]}
	allowed("owner", "account.transfer_ownership", transfer("outsider"))
}

test_transfer_is_owner_only if {
	every user in {"admin", "grouped", "manager"} {
		decide(user, "account.transfer_ownership", transfer("outsider")) == {"allow": false, "reasons": ["only the account owner may transfer the account"]}
	}
}

test_transfer_target_rules if {
	denied_because("owner", "account.transfer_ownership", {}, "missing resource.properties.target_user")
	denied_because("owner", "account.transfer_ownership", transfer("vo"), `unknown target user "vo" in account "t"`)
	denied_because("owner", "account.transfer_ownership", transfer("owner"), `"owner" already owns account "t"`)
}

test_transfer_target_owning_another_account if {
	# "admin" of t has the id of u's owner: denied (ids are per account, so this leans to deny)
	decide("owner", "account.transfer_ownership", transfer("admin")) == {"allow": false, "reasons": [`target user "admin" has the same id as the owner of account "u"`]}

	# member2 of t has the email of v's owner, in another case
	decide("owner", "account.transfer_ownership", transfer("member2")) == {"allow": false, "reasons": [`target user "member2" has the same email as the owner of account "v"`]}

	# in u, "member" owns nothing elsewhere (t's "member" is another user)
	allowed("admin", "account.transfer_ownership", {"account": "u", "target_user": "member"})
}

test_transfer_with_a_user_without_email if {
	# w2admin has no email: only the id rule applies
	allowed("owner", "account.transfer_ownership", transfer("w2admin"))
}

# --- Accounts are isolated --------------------------------------------------------

test_accounts_are_isolated if {
	# "admin" owns u but is only a workspace admin in t
	allowed("admin", "account.create_workspace", {"account": "u"})
	denied("admin", "account.create_workspace", {"account": "t"})

	# "member" of u holds billing and logs there, not in t
	allowed("member", "billing.view", {"account": "u"})
	denied("member", "billing.view", {"account": "t"})
	decide("owner", "billing.view", {"account": "u"}).reasons == [`unknown user "owner" in account "u"`]
}
