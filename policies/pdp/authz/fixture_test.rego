# Test fixture and helpers shared by the pdp.authz tests. Users are named by
# what they are in workspace "w" of account "t", so a test reads as a sentence.
package pdp.authz_test

import data.pdp.authz

accounts := {
	"t": {
		"name": "Test",
		"owner": "owner",
		"users": {
			"owner": {"email": "owner@t.test"},
			"admin": {"email": "admin@t.test"},
			"manager": {"email": "manager@t.test"},
			"member": {"email": "member@t.test"},
			"member2": {"email": "m2@t.test"},
			"collab": {"email": "collab@t.test"},
			"reviewer": {"email": "reviewer@t.test"},
			"publisher": {"email": "publisher@t.test"},
			"nobody": {"email": "nobody@t.test"},
			"outsider": {"email": "outsider@t.test"},
			"grouped": {"email": "grouped@t.test"},
			"auditor": {"email": "auditor@t.test"},
			"w2admin": {},
		},
		"workspaces": {
			"w": {"name": "W", "members": {
				"admin": "admin",
				"manager": "manager",
				"member": "member",
				"member2": "member",
				"collab": "collaborator",
				"reviewer": "reviewer",
				"publisher": "publisher",
				"nobody": "empty_role",
			}},
			# the same users, other roles: roles never leak across workspaces
			"w2": {"name": "W2", "members": {
				"member": "admin",
				"admin": "member",
				"owner": "collaborator",
				"w2admin": "admin",
			}},
			# the owner holds no role here
			"w3": {"name": "W3", "members": {"manager": "manager"}},
		},
		"custom_roles": {
			"reviewer": {"permissions": ["documents.view_others", "approvals.approve"]},
			"publisher": {"permissions": ["forms.publish_others", "images.delete_others"]},
			"empty_role": {"permissions": []},
		},
		"role_groups": {
			"billing_g": {"permissions": ["billing"], "members": ["grouped"]},
			"logs_g": {"permissions": ["logs"], "members": ["grouped", "member"]},
			"admin_logs_g": {"permissions": ["admin_logs"], "members": ["auditor"]},
			"empty_g": {"permissions": [], "members": ["member2", "outsider", "grouped"]},
		},
	},
	# shares the ids "admin" and "member" with t: two other users
	"u": {
		"name": "U",
		"owner": "admin",
		"users": {
			"admin": {"email": "boss@u.test"},
			"member": {"email": "member@u.test"},
		},
		"workspaces": {"w": {"members": {"member": "admin"}}},
		"custom_roles": {},
		"role_groups": {"all": {"permissions": ["billing", "logs", "admin_logs"], "members": ["member"]}},
	},
	# owned by the person who is member2 in t (same email, other case)
	"v": {
		"owner": "vo",
		"users": {"vo": {"email": "M2@T.test"}},
	},
}

# req builds an AuthZEN request by user on action in account t. The resource
# type is the action's; workspace actions default to workspace "w"; props
# are merged over those defaults.
req(user, action, props) := {
	"subject": {"type": "user", "id": user},
	"action": {"name": action},
	"resource": {
		"type": type,
		"id": resource_id(type, full),
		"properties": full,
	},
	"context": {},
} if {
	type := authz.action_types[action]
	full := object.union(default_props(action), props)
}

default_props(action) := {"account": "t", "workspace": "w"} if {
	authz.workspace_actions[action]
} else := {"account": "t"}

resource_id("account", props) := props.account

resource_id("workspace", props) := props.workspace

resource_id(type, _) := "r1" if not type in {"account", "workspace"}

decide(user, action, props) := d if {
	d := authz.decision with input as req(user, action, props) with data.accounts as accounts
}

decide_input(request) := d if {
	d := authz.decision with input as request with data.accounts as accounts
}

allowed(user, action, props) if decide(user, action, props).allow == true

denied(user, action, props) if decide(user, action, props).allow == false

# denied_because: denied, and reason is among the reasons.
denied_because(user, action, props, reason) if {
	d := decide(user, action, props)
	d.allow == false
	reason in d.reasons
}

# allowed_because: allowed, and reason is among the reasons.
allowed_because(user, action, props, reason) if {
	d := decide(user, action, props)
	d.allow == true
	reason in d.reasons
}

# well_formed: the decision contract: a boolean and sorted, non-empty
# plain-English reasons.
well_formed(d) if {
	is_boolean(d.allow)
	is_array(d.reasons)
	count(d.reasons) > 0
	d.reasons == sort(d.reasons)
	every r in d.reasons {
		is_string(r)
		r != ""
	}
}

# Ownership shorthands for props.
own(user) := {"owner": user}

others := {"owner": "member2"}

# role_users: a user holding each built-in role in workspace w.
role_users := {"member": "member", "manager": "manager", "admin": "admin", "collaborator": "collab"}

# in_set(x, s) is x in s as a boolean (opa fmt drops the parentheses of
# (x in s) == y, which then parses differently).
in_set(x, s) if {
	x in s
} else := false
