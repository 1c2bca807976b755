package policy_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/policies"
)

// writePolicies copies the shipped policy files to a temporary directory,
// applying edit to each file's text (nil edit: unchanged; a returned ""
// with drop set deletes the file).
func writePolicies(t *testing.T, edit func(name, text string) (string, bool)) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{policy.ModelFile, policy.PolicyFile, policy.CatalogFile} {
		b, err := fs.ReadFile(policies.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		text, keep := string(b), true
		if edit != nil {
			text, keep = edit(name, text)
		}
		if !keep {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// replaceIn returns an edit replacing old with new in one file; the test
// fails if old is not there (the shipped files changed under it).
func replaceIn(t *testing.T, file, old, new string) func(string, string) (string, bool) {
	return func(name, text string) (string, bool) {
		if name != file {
			return text, true
		}
		if !strings.Contains(text, old) {
			t.Fatalf("%s does not contain %q", file, old)
		}
		return strings.Replace(text, old, new, 1), true
	}
}

func appendTo(file, line string) func(string, string) (string, bool) {
	return func(name, text string) (string, bool) {
		if name == file {
			text += "\n" + line + "\n"
		}
		return text, true
	}
}

func TestShippedPoliciesLoad(t *testing.T) {
	t.Parallel()
	if _, err := policy.NewEngine(policy.EngineConfig{FS: policies.FS}); err != nil {
		t.Fatalf("embedded policies: %v", err)
	}
	if _, err := policy.NewEngine(policy.EngineConfig{Dir: writePolicies(t, nil)}); err != nil {
		t.Fatalf("policy directory: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	const (
		cat   = policy.CatalogFile
		csv   = policy.PolicyFile
		model = policy.ModelFile
	)
	tests := []struct {
		name string
		edit func(name, text string) (string, bool)
		// want are substrings the message must contain (file, then what).
		want []string
	}{
		{
			name: "missing catalog",
			edit: func(name, text string) (string, bool) { return text, name != cat },
			want: []string{"catalog.yaml", "cannot read"},
		},
		{
			name: "missing policy",
			edit: func(name, text string) (string, bool) { return text, name != csv },
			want: []string{"policy.csv", "cannot read"},
		},
		{
			name: "missing model",
			edit: func(name, text string) (string, bool) { return text, name != model },
			want: []string{"model.conf", "cannot read"},
		},
		{
			name: "catalog: YAML syntax",
			edit: replaceIn(t, cat, "datasets:\n", "datasets:\n  - name: [unclosed\n"),
			want: []string{"catalog.yaml"},
		},
		{
			name: "catalog: unknown key",
			edit: replaceIn(t, cat, "    provider: housing\n", "    provider: housing\n    owner: housing\n"),
			want: []string{"catalog.yaml", "owner"},
		},
		{
			name: "catalog: field group without a class",
			edit: replaceIn(t, cat, "{name: workflow, class: unconditional,", "{name: workflow,"),
			want: []string{"catalog.yaml", `dataset "cases", field group "workflow": no sharing class`},
		},
		{
			name: "catalog: unknown class",
			edit: replaceIn(t, cat, "{name: workflow, class: unconditional,", "{name: workflow, class: shared,"),
			want: []string{"catalog.yaml", `field group "workflow": unknown sharing class "shared"`},
		},
		{
			name: "catalog: personal group without masks",
			edit: replaceIn(t, cat, "        masks: {name: NAME, phone: PHONE}\n\n  - name: violations", "\n  - name: violations"),
			want: []string{"catalog.yaml", `field group "reporter": a personal group needs a masking rule`},
		},
		{
			name: "catalog: unknown masking rule",
			edit: replaceIn(t, cat, "masks: {plate: PLATE}", "masks: {plate: LICENCE}"),
			want: []string{"catalog.yaml", `field "plate": unknown masking rule "LICENCE"`},
		},
		{
			name: "catalog: unknown provider",
			edit: replaceIn(t, cat, "    provider: traffic-police\n", "    provider: police\n"),
			want: []string{"catalog.yaml", `dataset "parking": provider "police" is not a department`},
		},
		{
			name: "catalog: dataset without groups",
			edit: replaceIn(t, cat, "    groups:\n      - {name: core, class: not-shared, about: \"who,", "    unused:\n      - {name: core, class: not-shared, about: \"who,"),
			want: []string{"catalog.yaml", "unused"},
		},
		{
			name: "catalog: dataset with an empty group list",
			edit: replaceIn(t, cat, "    groups:\n      - {name: core, class: not-shared, about: \"who, department, purpose or grant, dataset, field groups, row count, time\"}\n", "    groups: []\n"),
			want: []string{"catalog.yaml", `dataset "audit": no field groups`},
		},
		{
			name: "catalog: dataset declared twice",
			edit: replaceIn(t, cat, "  - name: evaluation\n", "  - name: audit\n"),
			want: []string{"catalog.yaml", `dataset "audit": declared twice`},
		},
		{
			name: "catalog: a role the code uses is missing",
			edit: replaceIn(t, cat, "  - {name: grid-worker,", "  - {name: grid-keeper,"),
			want: []string{"catalog.yaml", `the role "grid-worker" is used by the hub's code and must be declared`},
		},
		{
			name: "policy: unknown role",
			edit: appendTo(csv, "p, inspector, *, cases, rows:all, allow"),
			want: []string{"policy.csv: line ", `unknown role "inspector"`},
		},
		{
			name: "policy: unknown dataset",
			edit: appendTo(csv, "p, viewer, *, casez, rows:all, allow"),
			want: []string{"policy.csv: line ", `unknown dataset "casez"`},
		},
		{
			name: "policy: unknown field group",
			edit: appendTo(csv, "p, viewer, *, cases/reporters, read, allow"),
			want: []string{"policy.csv: line ", `unknown field group "reporters" of dataset "cases"`},
		},
		{
			name: "policy: unknown class",
			edit: appendTo(csv, "p, viewer, *, class:secret, read, allow"),
			want: []string{"policy.csv: line ", `unknown sharing class "secret"`},
		},
		{
			name: "policy: unknown department",
			edit: appendTo(csv, "p, viewer, police, cases, rows:all, allow"),
			want: []string{"policy.csv: line ", `unknown department "police"`},
		},
		{
			name: "policy: department pattern matching nothing",
			edit: appendTo(csv, "g, viewer, street-staff, village-*"),
			want: []string{"policy.csv: line ", `the department pattern "village-*" matches no department`},
		},
		{
			name: "policy: unknown action",
			edit: appendTo(csv, "p, officer, *, cases, close, allow"),
			want: []string{"policy.csv: line ", `unknown action "close" for dataset "cases"`},
		},
		{
			name: "policy: read on a dataset instead of its groups",
			edit: appendTo(csv, "p, viewer, *, cases, read, allow"),
			want: []string{"policy.csv: line ", "read applies to field groups: write cases/* or cases/<group>"},
		},
		{
			name: "policy: rows on a field group",
			edit: appendTo(csv, "p, viewer, *, cases/core, rows:all, allow"),
			want: []string{"policy.csv: line ", "rows:all applies to datasets"},
		},
		{
			name: "policy: bad effect",
			edit: appendTo(csv, "p, viewer, *, cases, rows:all, permit"),
			want: []string{"policy.csv: line ", `the effect must be allow or deny, not "permit"`},
		},
		{
			name: "policy: wrong number of fields",
			edit: appendTo(csv, "p, viewer, *, cases, rows:all"),
			want: []string{"policy.csv: line ", "a p rule has 5 fields"},
		},
		{
			name: "policy: generated line written by hand",
			edit: appendTo(csv, "g2, cases/reporter, class:unconditional"),
			want: []string{"policy.csv: line ", "g2 lines are generated from catalog.yaml"},
		},
		{
			name: "policy: grant in the file",
			edit: appendTo(csv, "p2, dept:housing, cases/reporter, hailing, 2030-01-01T00:00:00Z, g-1, x"),
			want: []string{"policy.csv: line ", "grants (p2) belong in the run-time policy store"},
		},
		{
			name: "policy: unknown rule type",
			edit: appendTo(csv, "p3, viewer, cases"),
			want: []string{"policy.csv: line ", `unknown rule type "p3"`},
		},
		{
			name: "policy: unbalanced quote",
			edit: appendTo(csv, `p, viewer, *, "cases, rows:all, allow`),
			want: []string{"policy.csv: line ", "column"},
		},
		{
			name: "policy: several problems reported together",
			edit: appendTo(csv, "p, inspector, *, cases, rows:all, allow\np, viewer, *, casez, rows:all, allow"),
			want: []string{"2 problems", `unknown role "inspector"`, `unknown dataset "casez"`},
		},
		{
			name: "model: no grant policy type",
			edit: replaceIn(t, model, "p2 = sub, obj, jur, until, id, purpose\n", ""),
			want: []string{"model.conf", "p2 is not defined"},
		},
		{
			name: "model: wrong request shape",
			edit: replaceIn(t, model, "r = sub, dom, obj, act", "r = sub, obj, act"),
			want: []string{"model.conf", "r = sub, obj, act; the engine needs r = sub, dom, obj, act"},
		},
		{
			name: "model: role definition missing",
			edit: replaceIn(t, model, "g3 = _, _\n", ""),
			want: []string{"model.conf", "role definition g3 is not defined"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := policy.NewEngine(policy.EngineConfig{Dir: writePolicies(t, tc.edit)})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewEngine succeeded; want an error mentioning %q", tc.want)
			}
			if !policy.IsPolicyError(err) {
				t.Errorf("error is not a *PolicyError: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}
