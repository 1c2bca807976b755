package policy

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"github.com/casbin/casbin/v2/util"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
)

// Defaults for EngineConfig.
const (
	// PolicyDirDefault is where NewEngine reads the policy files when the
	// config names neither an FS nor a directory.
	PolicyDirDefault = "policies"
	// ReloadTimeoutDefault bounds a reload triggered by the watcher.
	ReloadTimeoutDefault = 10 * time.Second
)

// baseCacheLimit bounds the per-snapshot memo of decisions by department
// and role set. Principals come from verified tokens and API keys, so the
// number of distinct combinations is small; the limit only guards memory.
const baseCacheLimit = 10000

// EngineConfig configures an Engine. Zero values take the defaults.
type EngineConfig struct {
	// FS holds model.conf, policy.csv and catalog.yaml at its root; use
	// policies.FS for the copy embedded in the binary. When nil, Dir is read.
	FS fs.FS
	// Dir is the policy directory when FS is nil (PolicyDirDefault).
	Dir string
	// Adapter is the run-time policy store (grants, and rules added at run
	// time) whose rules are loaded on top of the files' baseline; nil for
	// none. The files are never written back.
	Adapter persist.Adapter
	// Watcher, when set, tells the other instances about policy changes made
	// through this engine, and makes this engine reload when they change it.
	Watcher persist.Watcher
	// Now is the clock grants expire by (time.Now).
	Now func() time.Time
	// Logger receives reload failures and ignored grant rules (slog.Default).
	Logger *slog.Logger
}

// Engine decides what principals may do with datasets: it compiles the
// policy files and the run-time policy store into a Casbin enforcer and
// answers Decide. It is safe for concurrent use; Reload swaps in a new
// policy snapshot atomically, so decisions never see a half-loaded policy.
type Engine struct {
	modelText string
	cat       *access.Catalog
	baseRules []rule // policy.csv and the catalog's generated rules
	adapter   persist.Adapter
	watcher   persist.Watcher
	now       func() time.Time
	log       *slog.Logger

	reloadMu  sync.Mutex // one reload at a time
	snap      atomic.Pointer[snapshot]
	decisions atomic.Uint64
}

// NewEngine loads and validates the policy files and the run-time store and
// returns a ready engine. Any problem in the files (a missing file, an
// unknown dataset, role, department or field group, a group without a
// class, a malformed rule) is a *PolicyError listing every problem found:
// the hub must not start on a policy it cannot fully understand.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	fsys := cfg.FS
	if fsys == nil {
		dir := cfg.Dir
		if dir == "" {
			dir = PolicyDirDefault
		}
		fsys = os.DirFS(dir)
	}
	e := &Engine{adapter: cfg.Adapter, watcher: cfg.Watcher, now: cfg.Now, log: cfg.Logger}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.Default()
	}

	read := func(name string) ([]byte, error) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, &PolicyError{File: name, Problems: []string{fmt.Sprintf("cannot read it: %v", err)}}
		}
		return b, nil
	}
	catData, err := read(CatalogFile)
	if err != nil {
		return nil, err
	}
	if e.cat, err = ParseCatalog(catData); err != nil {
		return nil, err
	}
	modelData, err := read(ModelFile)
	if err != nil {
		return nil, err
	}
	e.modelText = string(modelData)
	if _, err := parseModel(e.modelText); err != nil {
		return nil, err
	}
	policyData, err := read(PolicyFile)
	if err != nil {
		return nil, err
	}
	fileRules, err := parsePolicyCSV(policyData)
	if err != nil {
		return nil, err
	}
	v := validator{cat: e.cat}
	var ps problems
	for _, r := range fileRules {
		v.checkFileRule(r, &ps)
	}
	if len(ps) > 0 {
		return nil, &PolicyError{File: PolicyFile, Problems: ps}
	}
	e.baseRules = append(fileRules, generatedRules(e.cat)...)

	s, err := e.build(context.Background())
	if err != nil {
		return nil, err
	}
	e.snap.Store(s)

	if e.watcher != nil {
		err := e.watcher.SetUpdateCallback(func(string) {
			ctx, cancel := context.WithTimeout(context.Background(), ReloadTimeoutDefault)
			defer cancel()
			if err := e.Reload(ctx); err != nil {
				e.log.Error("access: policy reload after a change elsewhere failed; keeping the previous policy", "err", err)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("access: set watcher callback: %w", err)
		}
	}
	return e, nil
}

// Catalog returns the dataset catalog.
func (e *Engine) Catalog() *access.Catalog { return e.cat }

// Decisions returns how many decisions the engine has computed (answers
// served from a request cache are not counted).
func (e *Engine) Decisions() uint64 { return e.decisions.Load() }

// Reload reloads the run-time policy store on top of the files' baseline
// and swaps the result in. On error the engine keeps the policy it had. The
// policy files themselves are read once, at NewEngine.
func (e *Engine) Reload(ctx context.Context) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	s, err := e.build(ctx)
	if err != nil {
		return err
	}
	e.snap.Store(s)
	return nil
}

// snapshot is one immutable compiled policy.
type snapshot struct {
	cat *access.Catalog
	// mu serialises calls into the enforcer: Casbin's enforcer and role
	// managers are not safe for concurrent use. Answers are memoised in
	// bases, so the lock is taken once per department and role set.
	mu     sync.Mutex
	enf    *casbin.Enforcer
	links  *linkCache
	bases  sync.Map // baseKey → *base
	nbases atomic.Int64
	// grants by grantee department, all of them (expiry is checked per
	// decision).
	grants map[string][]grantLine
}

// build compiles the baseline and the run-time store into a snapshot.
func (e *Engine) build(ctx context.Context) (*snapshot, error) {
	v := validator{cat: e.cat}
	rules := make([][]string, 0, len(e.baseRules)+64)
	for _, r := range e.baseRules {
		rules = append(rules, append([]string{r.ptype}, r.fields...))
	}

	grants := map[string][]grantLine{}
	if e.adapter != nil {
		scratch, err := model.NewModelFromString(e.modelText)
		if err != nil {
			return nil, fmt.Errorf("access: load run-time policy: %w", err)
		}
		if ca, ok := e.adapter.(persist.ContextAdapter); ok {
			err = ca.LoadPolicyCtx(ctx, scratch)
		} else {
			err = e.adapter.LoadPolicy(scratch)
		}
		if err != nil {
			return nil, fmt.Errorf("access: load run-time policy: %w", err)
		}
		var ps problems
		for _, sec := range []string{"p", "g"} {
			for _, ptype := range sortedKeys(scratch[sec]) {
				for _, fields := range scratch[sec][ptype].Policy {
					r := rule{ptype: ptype, fields: fields}
					switch ptype {
					case ptypeGrant:
						g, err := v.parseGrantRule(fields)
						if err != nil {
							// A broken grant must not take every instance
							// down; ignoring it denies, which is safe.
							e.log.Warn("access: ignoring an invalid grant rule in the run-time policy store", "rule", r.String(), "err", err)
							continue
						}
						grants[g.dept] = append(grants[g.dept], g)
					case ptypeClass, ptypeProvider:
						ps.add("%s: %s lines are generated from %s and cannot be stored", r.String(), ptype, CatalogFile)
					default:
						v.checkRule(r, &ps)
					}
					rules = append(rules, append([]string{ptype}, fields...))
				}
			}
		}
		if len(ps) > 0 {
			return nil, &PolicyError{File: runtimeStore, Problems: ps}
		}
	}

	m, err := model.NewModelFromString(e.modelText)
	if err != nil {
		return nil, fmt.Errorf("access: model: %w", err)
	}
	enf, err := casbin.NewEnforcer(m)
	if err != nil {
		return nil, fmt.Errorf("access: new enforcer: %w", err)
	}
	// Domain patterns ("*", "street-*") in g rules must be known before the
	// role links are built, or links in concrete domains miss them.
	enf.AddNamedDomainMatchingFunc(ptypeRole, "keyMatch", util.KeyMatch)
	links := &linkCache{enf: enf, known: map[[3]string]bool{}}
	enf.AddFunction("anyRole", func(args ...any) (any, error) {
		if len(args) != 3 {
			return nil, fmt.Errorf("anyRole takes 3 arguments, got %d", len(args))
		}
		roles, _ := args[0].(string)
		target, _ := args[1].(string)
		dom, _ := args[2].(string)
		for _, r := range strings.Split(roles, "|") {
			if r == "" {
				continue
			}
			ok, err := links.has(r, target, dom)
			if err != nil {
				return nil, err
			}
			if ok {
				return true, nil
			}
		}
		return false, nil
	})
	enf.SetAdapter(snapshotAdapter{rules: rules})
	if err := enf.LoadPolicy(); err != nil {
		return nil, fmt.Errorf("access: load policy: %w", err)
	}
	enf.EnableAutoSave(false)
	return &snapshot{cat: e.cat, enf: enf, links: links, grants: grants}, nil
}

// linkCache memoises role inheritance questions (g with a domain). Casbin's
// domain role manager answers a question about a department that no g rule
// names literally (street-chengdong, matched by the pattern street-*) by
// copying every matching pattern's links into a throw-away role manager,
// about a third of a millisecond each time. Used under snapshot.mu only.
type linkCache struct {
	enf   *casbin.Enforcer
	known map[[3]string]bool
}

func (c *linkCache) has(role, target, dom string) (bool, error) {
	key := [3]string{role, target, dom}
	if ok, found := c.known[key]; found {
		return ok, nil
	}
	ok, err := c.enf.GetRoleManager().HasLink(role, target, dom)
	if err != nil {
		return false, err
	}
	if len(c.known) < baseCacheLimit {
		c.known[key] = ok
	}
	return ok, nil
}

// rowKinds are the row sources a base decision allows.
type rowKinds struct{ all, jurisdiction, dept, citizen bool }

// base is what the policy says for a department, role set and dataset,
// before the principal's jurisdiction, citizen id and grants are applied.
type base struct {
	rows     rowKinds
	fields   map[string]access.FieldAccess
	useGrant map[string]bool // the department's grants apply to the group
	// ownGroup says the dataset's provider provides the group: only such a
	// grant can open the provider's rows. A grant of a group another
	// department provides (planning's permit status on violations) unlocks
	// that group on rows the principal already sees, never more rows: its
	// grantor does not own them.
	ownGroup map[string]bool
	actions  []string
	staff    bool // acts for its department
}

type baseKey struct{ dept, roles, dataset string }

// base returns the memoised base decision.
func (s *snapshot) base(dept string, roles []string, ds *access.Dataset) (*base, error) {
	key := baseKey{dept: dept, roles: roleKey(s.cat, roles), dataset: ds.Name}
	if b, ok := s.bases.Load(key); ok {
		return b.(*base), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.bases.Load(key); ok {
		return b.(*base), nil
	}
	b, err := s.compute(dept, key.roles, ds)
	if err != nil {
		return nil, err
	}
	if s.nbases.Add(1) <= baseCacheLimit {
		s.bases.Store(key, b)
	}
	return b, nil
}

// roleKey joins the principal's roles, sorted and without duplicates, into
// the request subject. Only roles a principal can hold count: an abstract
// role ("staff", "command-centre", "anyone") named by a credential would
// otherwise meet every rule written for it, and an undeclared or
// malformed name means nothing to the policy.
func roleKey(cat *access.Catalog, roles []string) string {
	rs := make([]string, 0, len(roles))
	for _, r := range roles {
		if role, ok := cat.Role(r); ok && !role.Abstract {
			rs = append(rs, r)
		}
	}
	sort.Strings(rs)
	return strings.Join(slices.Compact(rs), "|")
}

// compute asks the enforcer; s.mu is held.
func (s *snapshot) compute(dept, sub string, ds *access.Dataset) (*base, error) {
	b := &base{fields: make(map[string]access.FieldAccess, len(ds.Groups)), useGrant: map[string]bool{}, ownGroup: map[string]bool{}}
	if sub == "" {
		for _, g := range ds.Groups {
			b.fields[g.Name] = access.FieldDenied
		}
		return b, nil
	}
	var err error
	ask := func(obj, act string) bool {
		if err != nil {
			return false
		}
		var ok bool
		ok, err = s.enf.Enforce(sub, dept, obj, act)
		return ok
	}
	b.rows = rowKinds{
		all:          ask(ds.Name, actRowsAll),
		jurisdiction: ask(ds.Name, actRowsJurisdiction),
		dept:         ask(ds.Name, actRowsDept),
		citizen:      ask(ds.Name, actRowsCitizen),
	}
	for _, g := range ds.Groups {
		obj := ds.Name + "/" + g.Name
		switch {
		case ask(obj, actRead):
			b.fields[g.Name] = access.FieldVisible
		case g.Class == access.ClassPersonal && ask(obj, actReadMasked):
			// Only personal groups have masking rules; read-masked on
			// anything else stays denied.
			b.fields[g.Name] = access.FieldMasked
		default:
			b.fields[g.Name] = access.FieldDenied
		}
		if (g.Class == access.ClassConditional || g.Class == access.ClassPersonal) && ask(obj, actUseGrant) {
			b.useGrant[g.Name] = true
		}
		b.ownGroup[g.Name] = ds.ProviderOf(g) == ds.Provider
	}
	for _, a := range ds.Actions {
		if ask(ds.Name, a) {
			b.actions = append(b.actions, a)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("access: enforce on %s: %w", ds.Name, err)
	}
	for _, r := range strings.Split(sub, "|") {
		if ok, _ := s.links.has(r, roleStaff, dept); ok && dept != "" {
			b.staff = true
			break
		}
	}
	return b, nil
}

// Decide returns what the principal in ctx may do with dataset: rows, field
// groups, actions, and the grants relied on. It is computed once per
// request and dataset when ctx carries a request cache (WithRequestCache).
// A principal who may see nothing gets an empty row scope and denied
// fields, not an error: a record outside one's scope is indistinguishable
// from one that does not exist. An unknown dataset is an (internal) error.
func (e *Engine) Decide(ctx context.Context, dataset string) (*access.Decision, error) {
	p := access.PrincipalFrom(ctx)
	if rc := requestCacheFrom(ctx); rc != nil {
		return rc.get(p, dataset, func() (*access.Decision, error) { return e.decide(p, dataset) })
	}
	return e.decide(p, dataset)
}

func (e *Engine) decide(p *access.Principal, dataset string) (*access.Decision, error) {
	s := e.snap.Load()
	ds, ok := s.cat.Dataset(dataset)
	if !ok {
		return nil, fmt.Errorf("access: decide: unknown dataset %q (the catalog declares %s)", dataset, datasetNames(s.cat))
	}
	if msg := checkPrincipalDept(s.cat, p.Dept); msg != "" {
		return nil, apperr.New(apperr.Forbidden, "%s", msg)
	}
	b, err := s.base(p.Dept, p.Roles, ds)
	if err != nil {
		return nil, err
	}
	e.decisions.Add(1)

	d := &access.Decision{Dataset: ds.Name, Fields: maps.Clone(b.fields), Actions: slices.Clone(b.actions)}
	if b.staff {
		d.OwnDept = p.Dept
	}
	switch {
	case b.rows.all:
		d.Rows.All = true
	default:
		if b.rows.jurisdiction && p.Jurisdiction != "" {
			d.Rows.Jurisdictions = []string{p.Jurisdiction}
		}
		if b.rows.dept && p.Dept != "" {
			d.Rows.Depts = []string{p.Dept}
		}
		if b.rows.citizen && p.CitizenID != "" {
			d.Rows.CitizenID = p.CitizenID
		}
	}
	e.applyGrants(s, d, b, p.Dept)
	if d.Rows.Empty() {
		// No rows, no fields: nothing can leak through aggregates or
		// lookups that forget the row scope.
		for g := range d.Fields {
			d.Fields[g] = access.FieldDenied
		}
		d.Partial = nil
	}
	return d, nil
}

// applyGrants widens d with the department's active grants on the dataset:
// the grants' subtrees join the rows, and each granted group becomes
// visible, on every row when the grants cover the whole row scope and
// otherwise on the grants' subtrees only (Decision.Partial).
func (e *Engine) applyGrants(s *snapshot, d *access.Decision, b *base, dept string) {
	if dept == "" || len(s.grants[dept]) == 0 {
		return
	}
	now := e.now()
	subtrees := map[string][]string{}
	var ids, purposes []string
	for _, g := range s.grants[dept] {
		if g.dataset != d.Dataset || !b.useGrant[g.group] || !now.Before(g.until) {
			continue
		}
		subtrees[g.group] = append(subtrees[g.group], g.jurisdiction)
		ids = append(ids, g.id)
		purposes = append(purposes, g.purpose)
		d.Applied = append(d.Applied, access.AppliedGrant{ID: g.id, Group: g.group, Jurisdiction: g.jurisdiction, Purpose: g.purpose})
	}
	if len(ids) == 0 {
		return
	}
	for group, js := range subtrees {
		if !b.ownGroup[group] {
			continue
		}
		for _, j := range js {
			if !d.Rows.All && !access.UnderAny(j, d.Rows.Jurisdictions) {
				d.Rows.Jurisdictions = addSubtree(d.Rows.Jurisdictions, j)
			}
		}
	}
	for _, group := range sortedKeys(subtrees) {
		js := subtrees[group]
		if d.Fields[group] >= access.FieldVisible {
			continue
		}
		if covers(js, d.Rows, s.cat.District) {
			d.Fields[group] = access.FieldVisible
			continue
		}
		if d.Partial == nil {
			d.Partial = map[string]access.PartialAccess{}
		}
		d.Partial[group] = access.PartialAccess{Access: access.FieldVisible, Jurisdictions: compactSubtrees(js)}
	}
	d.GrantIDs, d.Purpose = access.GrantIDsAndPurpose(ids, purposes)
}

// addSubtree adds root to roots, dropping roots it contains.
func addSubtree(roots []string, root string) []string {
	out := slices.DeleteFunc(slices.Clone(roots), func(r string) bool { return access.Under(r, root) })
	return append(out, root)
}

func compactSubtrees(roots []string) []string {
	var out []string
	for _, r := range roots {
		if !access.UnderAny(r, out) {
			out = addSubtree(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// covers reports whether every row of scope lies under one of subtrees.
func covers(subtrees []string, scope access.RowScope, district string) bool {
	if slices.Contains(subtrees, district) {
		return true
	}
	if scope.All || len(scope.Depts) > 0 || scope.CitizenID != "" {
		return false
	}
	for _, j := range scope.Jurisdictions {
		if !access.UnderAny(j, subtrees) {
			return false
		}
	}
	return true
}
