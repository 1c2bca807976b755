package policy_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/policies"
)

func TestWriteMatrix(t *testing.T) {
	t.Parallel()
	eng, err := policy.NewEngine(policy.EngineConfig{FS: policies.FS})
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := policy.WriteMatrix(&a, eng); err != nil {
		t.Fatal(err)
	}
	if err := policy.WriteMatrix(&b, eng); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("the matrix is not deterministic")
	}
	out := a.String()
	// Hand-written lines: what the requirements say these roles get.
	for _, want := range []string{
		"## cases\n",
		"| role | departments | rows | core (unconditional) | workflow (unconditional) | reporter (personal) | actions |",
		"| officer | urban-management | all | visible | visible | visible | report, command, handle |",
		"| viewer | every bureau but urban-management | all | visible | visible | masked, grant | — |",
		"| street-officer | every bureau but urban-management; every street; every town | jurisdiction + own dept | visible | visible | masked, grant | report, handle |",
		"| citizen-app | any | own reports | visible | visible | visible | citizen-report |",
		"| dispatcher | any | all | visible | visible | visible | report, command |",
		"permit (conditional, from planning)",
		"| admin | housing | all | visible | visible | visible | grant | visible | write |",
		"| public | any | all | visible | visible | denied | — |",
		"| auditor | any | all | visible | — |",
		"| evaluator | any | all | visible | visible | — |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("matrix lacks %q", want)
		}
	}
	if !strings.Contains(out, "No access: auditor, evaluator, public.") {
		t.Errorf("cases should list auditor, evaluator and public as having no access")
	}
	if testing.Verbose() {
		t.Log("\n" + out)
	}
}
