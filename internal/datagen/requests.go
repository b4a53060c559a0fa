package datagen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Request is one AuthZEN access evaluation request: the body of
// POST /access/v1/evaluation, and OPA's input for data.pdp.authz.decision.
type Request struct {
	Subject  Entity `json:"subject"`
	Action   Action `json:"action"`
	Resource Entity `json:"resource"`
}

// Entity is an AuthZEN subject or resource. Properties hold only what JSON
// decodes to (string, []any, map[string]any), so a Request evaluates the
// same in process as after a trip through JSON.
type Entity struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Action is an AuthZEN action.
type Action struct {
	Name string `json:"name"`
}

// The actions the request mix draws from (names from the policy's action
// table, model.md): owned resources need properties.owner; plain ones a
// workspace permission; the rest have properties of their own.
var (
	ownedActions = []string{
		"document.view", "document.view", "document.view", "document.comment", "document.edit", "document.edit",
		"document.delete", "document.send", "document.host_in_person_signing",
		"document_folder.view", "document_folder.edit",
		"template.view", "template.view", "template.duplicate", "template.edit", "template.delete",
		"template_folder.view", "form.view", "form.publish", "form.view_responses", "form.export_responses",
		"content_item.view", "content_item.edit", "image.use", "image.delete", "email_message.use",
	}
	plainActions = []string{
		"document_folder.create", "template.embed", "template.share", "template_folder.create", "form.create",
		"content_item.create", "image.add", "catalog_item.view", "catalog_item.edit", "contact.view",
		"contact.create", "integration.view", "integration.toggle", "theme.apply", "theme.create",
		"email_message.create", "workspace.edit_settings", "workspace.view_reports", "workspace.view_activity",
		"workspace.manage_approvals",
	}
	targetActions       = []string{"workspace.add_user", "workspace.remove_user", "workspace.change_user_role"}
	accountPermActions  = []string{"billing.view", "billing.manage", "company.customize", "purchase.manage", "domain.add", "activation_rule.manage", "role_group.edit", "role_group.assign_users"}
	ownerOnlyActions    = []string{"account.create_workspace", "account.toggle_addon", "account.open_admin_panel", "account.manage_custom_roles"}
	documentSources     = []string{"blank", "blank", "template", "shared_template", "upload", "public_template", "scan"} // "scan" is unknown: a deny
	templateKinds       = []string{"editable", "uploaded", "copied"}                                                     // "copied" is unknown
	shareLevels         = []string{"view", "comment", "edit"}
	sharedResourceTypes = map[string]bool{"document": true, "document_folder": true}
)

// Requests returns n requests over d drawn from seed, a realistic mix for
// load tests: many distinct subjects and resources across every account,
// every role (members of the workspace, the owner, users holding no role
// there, role group members), owned and shared resources, allows and
// denies, about 2% malformed (unknown account, user or action). By weight:
// 62% actions on owned resources, 12% plain workspace permissions, 5%
// document or template creation, 3% approvals, 3% workspace user
// management, 10% account permissions, 3% log views, 1.5% owner-only
// actions, 0.5% ownership transfers. The same arguments give the same requests.
func (d *Data) Requests(n int, seed int64) []Request {
	if len(d.Accounts) == 0 || n <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x2545f4914f6cdd1d))
	idx := make([]accountIndex, len(d.Accounts))
	for i := range d.Accounts {
		idx[i] = indexAccount(&d.Accounts[i])
	}
	out := make([]Request, 0, n)
	for range n {
		a := &idx[rng.IntN(len(idx))]
		out = append(out, a.request(rng))
	}
	return out
}

// accountIndex holds one account's users in sorted slices, so that draws
// are deterministic (map order is not).
type accountIndex struct {
	id, owner  string
	users      []string   // every user, sorted
	workspaces []string   // workspace ids, sorted
	members    [][]string // members[k]: users with a role in workspaces[k], sorted
	grouped    []string   // users in some role group, sorted
}

func indexAccount(a *Account) accountIndex {
	x := accountIndex{id: a.ID, owner: a.Owner, users: a.UserIDs}
	for ws := range a.Workspaces {
		x.workspaces = append(x.workspaces, ws)
	}
	slices.Sort(x.workspaces)
	for _, ws := range x.workspaces {
		var m []string
		for u := range a.Workspaces[ws].Members {
			m = append(m, u)
		}
		slices.Sort(m)
		x.members = append(x.members, m)
	}
	seen := map[string]bool{}
	for _, g := range a.RoleGroups {
		for _, u := range g.Members {
			if !seen[u] {
				seen[u] = true
				x.grouped = append(x.grouped, u)
			}
		}
	}
	slices.Sort(x.grouped)
	return x
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func (a *accountIndex) anyUser(rng *rand.Rand) string { return pick(rng, a.users) }

// request draws one request on account a (per mille weights, see Requests).
func (a *accountIndex) request(rng *rand.Rand) Request {
	switch w := rng.IntN(1000); {
	case w < 620:
		return a.owned(rng)
	case w < 740:
		return a.workspaceAction(rng, pick(rng, plainActions), nil)
	case w < 790:
		if rng.IntN(2) == 0 {
			return a.workspaceAction(rng, "document.create", map[string]any{"source": pick(rng, documentSources)})
		}
		return a.workspaceAction(rng, "template.create", map[string]any{"kind": pick(rng, templateKinds)})
	case w < 820:
		return a.approve(rng)
	case w < 850:
		target := a.anyUser(rng)
		if rng.IntN(5) == 0 {
			target = a.owner
		}
		return a.workspaceAction(rng, pick(rng, targetActions), map[string]any{"target_user": target})
	case w < 950:
		return a.accountAction(rng, pick(rng, accountPermActions), nil)
	case w < 980:
		return a.logView(rng)
	case w < 995:
		return a.accountAction(rng, pick(rng, ownerOnlyActions), nil)
	default:
		return a.transfer(rng)
	}
}

// workspaceSubject draws a workspace and a subject for a workspace action:
// mostly a member of that workspace, sometimes the owner, a user of the
// account without a role there, or (rarely) something malformed.
func (a *accountIndex) workspaceSubject(rng *rand.Rand) (ws, subject string) {
	k := rng.IntN(len(a.workspaces))
	ws = a.workspaces[k]
	switch w := rng.IntN(100); {
	case w < 80 && len(a.members[k]) > 0:
		subject = pick(rng, a.members[k])
	case w < 88:
		subject = a.owner
	case w < 99:
		subject = a.anyUser(rng)
	default:
		subject = "ghost-" + a.anyUser(rng) // unknown user: denied
	}
	return ws, subject
}

func (a *accountIndex) workspaceAction(rng *rand.Rand, action string, props map[string]any) Request {
	ws, subject := a.workspaceSubject(rng)
	typ, _, _ := strings.Cut(action, ".")
	if props == nil {
		props = map[string]any{}
	}
	props["account"] = a.id
	r := Request{
		Subject:  Entity{Type: "user", ID: subject},
		Action:   Action{Name: action},
		Resource: Entity{Type: typ, ID: fmt.Sprintf("%s-%d", typ, rng.IntN(1_000_000)), Properties: props},
	}
	if typ == "workspace" {
		r.Resource.ID = ws
	} else {
		props["workspace"] = ws
	}
	switch rng.IntN(200) {
	case 0:
		props["account"] = "acct-unknown" // unknown account
	case 1:
		r.Action.Name = action + "_all" // unknown action
	}
	return r
}

func (a *accountIndex) owned(rng *rand.Rand) Request {
	action := pick(rng, ownedActions)
	r := a.workspaceAction(rng, action, nil)
	props := r.Resource.Properties
	owner := r.Subject.ID
	if rng.IntN(100) >= 45 {
		owner = a.anyUser(rng)
	}
	props["owner"] = owner
	if sharedResourceTypes[r.Resource.Type] && rng.IntN(4) == 0 {
		collab := map[string]any{r.Subject.ID: pick(rng, shareLevels)}
		if rng.IntN(2) == 0 {
			collab[a.anyUser(rng)] = pick(rng, shareLevels)
		}
		props["collaborators"] = collab
	}
	return r
}

func (a *accountIndex) approve(rng *rand.Rand) Request {
	r := a.workspaceAction(rng, "document.approve", nil)
	approvers := []any{a.anyUser(rng)}
	if rng.IntN(2) == 0 {
		approvers = append(approvers, r.Subject.ID)
	}
	r.Resource.Properties["approvers"] = approvers
	return r
}

// accountSubject: a role group member, the owner, or any user.
func (a *accountIndex) accountSubject(rng *rand.Rand) string {
	switch w := rng.IntN(100); {
	case w < 60 && len(a.grouped) > 0:
		return pick(rng, a.grouped)
	case w < 75:
		return a.owner
	default:
		return a.anyUser(rng)
	}
}

func (a *accountIndex) accountAction(rng *rand.Rand, action string, props map[string]any) Request {
	return Request{
		Subject:  Entity{Type: "user", ID: a.accountSubject(rng)},
		Action:   Action{Name: action},
		Resource: Entity{Type: "account", ID: a.id, Properties: props},
	}
}

func (a *accountIndex) logView(rng *rand.Rand) Request {
	subject := a.accountSubject(rng)
	user := a.anyUser(rng)
	switch rng.IntN(10) {
	case 0, 1, 2:
		user = subject
	case 3:
		user = a.owner
	}
	return Request{
		Subject:  Entity{Type: "user", ID: subject},
		Action:   Action{Name: "log.view"},
		Resource: Entity{Type: "log", ID: fmt.Sprintf("log-%d", rng.IntN(1_000_000)), Properties: map[string]any{"account": a.id, "user": user}},
	}
}

func (a *accountIndex) transfer(rng *rand.Rand) Request {
	r := a.accountAction(rng, "account.transfer_ownership", map[string]any{"target_user": a.anyUser(rng)})
	if rng.IntN(10) < 7 {
		r.Subject.ID = a.owner
	}
	return r
}
