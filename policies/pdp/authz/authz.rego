# pdp's decision: an AuthZEN request (input.subject, input.action,
# input.resource, input.context) against the role data (data.accounts) and
# the access model of model.md.
#
# How a decision is made:
#   1. request_problem: the request is checked in order (subject, action,
#      resource, account, user, workspace, role); the first thing wrong or
#      missing denies, with that one reason.
#   2. The action's rules (workspace.rego's ws_*, account.rego's acct_*;
#      only the rules of the action's kind are evaluated) give `problems`
#      (properties missing or invalid for this action: each denies) and
#      `requirements`: each is {"kind", "grants": reasons, ...}; it is met
#      when some grant fired. Allow needs every requirement met.
#   3. reasons: on allow, every grant that fired; on deny, the problems and
#      fails(req) of each unmet requirement (built only then: a deny reason
#      costs sprintf calls an allow does not need). Sorted, never empty.
#
# Cost: OPA spends ~3-5 µs on every rule reference (even a cached one) and
# far less on an expression inside a body, so the hot rules read input.*
# directly and bind a rule's value to a local when a body needs it twice.
# Alternatives are else chains, not separate bodies: OPA's evaluator stops
# at the first body that succeeds, but the plan pdp runs (internal/vm)
# evaluates every body of a rule; an else chain stops both at the first.
#
# Every rule here is total or guarded (is_object, is_string, ...) so that no
# input, however malformed, raises an error, and every complete rule has one
# body or an else chain, so that no input can make two bodies conflict.
package pdp.authz

default decision := {"allow": false, "reasons": ["denied: the policy could not decide"]}

# decision is what the sidecar evaluates: always defined.
decision := {"allow": allow, "reasons": reasons}

default allow := false

# allow: deny by default; true only when a grant met every requirement.
allow if {
	not request_problem
	count(problems) == 0
	reqs := requirements
	count(reqs) > 0
	every req in reqs {
		count(req.grants) > 0
	}
}

reasons := [p] if {
	p := request_problem
} else := sort(granted) if {
	allow
} else := sort(denied) if {
	count(denied) > 0
} else := ["no rule grants this request"]

granted := {g | some req in requirements; some g in req.grants}

# requirements and problems: the action's, from workspace.rego or
# account.rego (a decision evaluates the rules of its kind of action only).
requirements := ws_requirements if workspace_actions[input.action.name]

else := acct_requirements

problems := ws_problems if workspace_actions[input.action.name]

else := acct_problems

denied := problems | {f |
	some req in requirements
	count(req.grants) == 0
	some f in fails(req)
}

# --- The request, checked in order -----------------------------------------

# request_problem is the first thing wrong with the request (undefined when
# nothing is). request_ok is a fast path with the same meaning: one body of
# positive lookups that most requests pass, so first_problem's chain of
# `not` checks (each a separate evaluation) runs only for a bad request.
request_problem := first_problem if not request_ok

request_ok if {
	input.subject.type == "user"
	sid := input.subject.id
	is_string(sid)
	sid != ""
	input.resource.type == action_type # a known action (undefined for others), computed once
	rid := input.resource.id
	is_string(rid)
	rid != ""
	properties_ok
	is_string(account.owner)
	is_object(account.users[sid])
	workspace_ok
}

# workspace_ok: an account action, or a workspace action on a workspace of
# the account where the subject holds a role or owns the account. (In the
# order that most requests pass first.)
workspace_ok if {
	workspace_actions[input.action.name]
	role # read from the workspace's members: the workspace exists
} else if {
	workspace_actions[input.action.name]
	workspace_exists
	is_account_owner
} else if account_actions[input.action.name]

first_problem := "missing subject" if {
	not input.subject
} else := "subject must be an object" if {
	not is_object(input.subject)
} else := "missing subject.type" if {
	not has_subject_type
} else := sprintf("subject type %q is not supported: want \"user\"", [input.subject.type]) if {
	input.subject.type != "user"
} else := "missing subject.id" if {
	not has_subject_id
} else := "missing action" if {
	not input.action
} else := "action must be an object" if {
	not is_object(input.action)
} else := "missing action.name" if {
	not has_action_name
} else := sprintf("unknown action %q", [action_name]) if {
	not action_type
} else := "missing resource" if {
	not input.resource
} else := "resource must be an object" if {
	not is_object(input.resource)
} else := "missing resource.type" if {
	not has_resource_type
} else := sprintf("action %q needs a resource of type %q, not %q", [action_name, action_type, input.resource.type]) if {
	input.resource.type != action_type
} else := "missing resource.id" if {
	not has_resource_id
} else := "resource.properties must be an object" if {
	not properties_ok
} else := sprintf("resource.properties.account %s does not match resource.id %q", [json.marshal(props.account), input.resource.id]) if {
	input.resource.type == "account"
	not account_id
} else := "missing resource.properties.account" if {
	not account_id
} else := sprintf("unknown account %q", [account_id]) if {
	not account_exists
} else := sprintf("unknown user %q in account %q", [subject_id, account_id]) if {
	not is_user(subject_id)
} else := workspace_problem if {
	workspace_actions[action_name]
}

# Only for workspace actions, after the account and user checks.
workspace_problem := sprintf("resource.properties.workspace %s does not match resource.id %q", [json.marshal(props.workspace), input.resource.id]) if {
	input.resource.type == "workspace"
	not workspace_id
} else := "missing resource.properties.workspace" if {
	not workspace_id
} else := sprintf("unknown workspace %q in account %q", [workspace_id, account_id]) if {
	not workspace_exists
} else := sprintf("no role in workspace %q", [workspace_id]) if {
	not is_account_owner
	not role
}

# The checks above are zero-argument rules on purpose: OPA evaluates a
# function's arguments outside a `not`, so `not f(input.missing)` is
# undefined (not true) and would skip the check; `not rule` is true.
has_subject_type if nonempty_string(input.subject.type)

has_subject_id if nonempty_string(input.subject.id)

has_action_name if nonempty_string(input.action.name)

has_resource_type if nonempty_string(input.resource.type)

has_resource_id if nonempty_string(input.resource.id)

properties_ok if is_object(input.resource.properties)

else if {
	is_object(input.resource)
	not properties_given
}

# properties_given: resource.properties is there, whatever its value (false
# and null too); unlike object.keys, this copies nothing.
properties_given if _ = input.resource.properties

# account and workspace: the account and workspace the resource names
# (undefined when there is none), found once a decision; the rules read
# their members. (Reading data gives the stored value itself, OPA's AST or
# pdp's compact view of it: binding a whole account copies nothing.)
account := data.accounts[account_id]

workspace := account.workspaces[workspace_id]

account_exists if is_string(account.owner)

workspace_exists if is_object(workspace)

nonempty_string(x) if {
	is_string(x)
	x != ""
}

# --- Who and what the request names (meaningful once request_problem is undefined)

subject_id := input.subject.id

action_name := input.action.name

# action_type: the resource type of a known action (undefined for others).
action_type := resource_type_of(input.action.name) if workspace_actions[input.action.name]

else := resource_type_of(input.action.name) if account_actions[input.action.name]

# props is resource.properties, or {} when absent or not an object.
props := p if {
	p := input.resource.properties
	is_object(p)
} else := {}

# account_id: the resource id for an account resource (a differing
# properties.account makes it undefined), else properties.account.
account_id := input.resource.id if {
	input.resource.type == "account"
	is_string(input.resource.id)
	input.resource.id != ""
	object.get(props, "account", input.resource.id) == input.resource.id
} else := a if {
	input.resource.type != "account"
	a := props.account
	is_string(a)
	a != ""
}

is_user(id) if is_object(account.users[id])

is_account_owner if account.owner == input.subject.id

# workspace_id: likewise, for workspace resources the resource id.
workspace_id := input.resource.id if {
	input.resource.type == "workspace"
	is_string(input.resource.id)
	input.resource.id != ""
	object.get(props, "workspace", input.resource.id) == input.resource.id
} else := w if {
	input.resource.type != "workspace"
	w := props.workspace
	is_string(w)
	w != ""
}

# role: the subject's workspace role (undefined when they hold none).
role := r if {
	r := workspace.members[input.subject.id]
	is_string(r)
}

# holds(p): the subject's workspace role holds permission p: a built-in role
# by the matrix (whose cells name built-in roles only), a custom role by its
# list.
holds(p) if role in matrix[p]

else if {
	not role in builtin_roles
	p in account.custom_roles[role].permissions
}

# role_label names the role in reasons: `member`, `custom role "reviewer"`.
role_label := r if {
	r := role
	r in builtin_roles
} else := sprintf("custom role %q", [r]) if {
	r := role
} else := "no workspace role"

# owner_grants: the Account Owner's grant, as a set (empty for anyone else).
owner_grants := {sprintf("account owner of %q", [account_id]) | is_account_owner}

# --- Subject search ---------------------------------------------------------

# subjects: the users of the account the resource names (empty when none).
subjects := {u | some u, _ in account.users}
