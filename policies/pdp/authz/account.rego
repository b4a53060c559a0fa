# The rules of the account actions (actions.rego's account_actions): owner-
# only actions, account permissions from role groups, ownership transfer and
# the logs rule: acct_problems and acct_requirements. See authz.rego for how
# problems and requirements combine.
package pdp.authz

acct_spec := account_actions[input.action.name]

# --- Owner only -------------------------------------------------------------

acct_requirements contains req if {
	acct_spec.owner_only
	req := {"kind": "owner_only", "what": acct_spec.owner_only, "grants": owner_grants}
}

fails(req) := {sprintf("only the account owner may %s", [req.what])} if req.kind == "owner_only"

# --- Account permissions ----------------------------------------------------

acct_requirements contains req if {
	req := account_perm_requirement(acct_spec.account_perm)
}

# account_perm_requirement(p) is met by the Account Owner (who holds all
# eight) or a role group of the subject that grants p.
account_perm_requirement(p) := {
	"grants": (owner_grants | {sprintf("role group %q grants %s", [g, p]) |
		some g in subject_groups
		p in account.role_groups[g].permissions
	}),
	"kind": "account_perm",
	"perm": p,
}

fails(req) := {sprintf("no role group of %s grants %s", [subject_id, req.perm])} if req.kind == "account_perm"

# subject_groups: the role groups the subject is a member of. Their
# permissions add up; a group without permissions grants nothing.
subject_groups := groups_of(subject_id)

groups_of(user) := {g |
	some g
	user in account.role_groups[g].members
}

# --- account.transfer_ownership ---------------------------------------------

acct_problems contains p if {
	acct_spec.transfer
	some p in target_problems
}

acct_problems contains sprintf("%q already owns account %q", [target_user, account_id]) if {
	acct_spec.transfer
	target_user == account.owner
}

# User ids are scoped per account, so "owns no other account" is decided
# leaning to deny: another account whose owner has the target's id, or the
# target's email (case-insensitive), counts as owned by the target.
acct_problems contains sprintf("target user %q has the same id as the owner of account %q", [target, other]) if {
	acct_spec.transfer
	target := target_user
	is_user(target)
	some other in accounts_owned_by_id[target]
	other != account_id
}

acct_problems contains sprintf("target user %q has the same email as the owner of account %q", [target, other]) if {
	acct_spec.transfer
	target := target_user
	email := lower_email(account.users[target])
	some other in accounts_owned_by_email[email]
	other != account_id
}

lower_email(user) := lower(user.email) if is_string(user.email)

# The owners of all accounts, by id and by lower-cased email: indexes over
# the role data alone, which pdp computes once per snapshot (internal/vm),
# so a transfer does not visit every account.
accounts_owned_by_id[owner] contains aid if {
	some aid, acct in data.accounts
	owner := acct.owner
}

accounts_owned_by_email[email] contains aid if {
	some aid, acct in data.accounts
	email := lower_email(acct.users[acct.owner])
}

# --- log.view ---------------------------------------------------------------

# log_user: resource.properties.user, whose log it is.
log_user := u if {
	u := props.user
	is_string(u)
	u != ""
}

acct_problems contains "missing resource.properties.user" if {
	acct_spec.log
	not log_user
}

acct_problems contains sprintf("unknown log user %q in account %q", [log_user, account_id]) if {
	acct_spec.log
	log_user
	not is_user(log_user)
}

# Own log: always; an administrator account's: admin_logs; anyone else's: logs.
acct_requirements contains req if {
	acct_spec.log
	is_user(log_user)
	perm := log_permission
	base := account_perm_requirement(perm)
	req := {
		"kind": "log",
		"perm": perm,
		"grants": (base.grants | {"own log" | log_user == subject_id}),
	}
}

fails(req) := {sprintf("no role group of %s grants %s, needed for the logs of %s", [subject_id, req.perm, log_owner_label])} if req.kind == "log"

log_permission := "admin_logs" if is_administrator(log_user)

else := "logs"

log_owner_label := sprintf("administrator account %q", [log_user]) if {
	is_administrator(log_user)
} else := sprintf("%q", [log_user])

# is_administrator(user): the owner, an admin in some workspace, or a member
# of a role group with at least one permission.
is_administrator(user) if account.owner == user

else if {
	some ws
	account.workspaces[ws].members[user] == "admin"
} else if {
	some g in groups_of(user)
	permissions := account.role_groups[g].permissions
	is_array(permissions)
	count(permissions) > 0
}
