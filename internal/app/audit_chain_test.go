package app_test

import "testing"

// The chain's verification (the console's audit page) is the auditors'
// alone, like the trail itself.
func TestAuditChainIsForAuditors(t *testing.T) {
	h := newHub(t)
	const q = `{ auditChain { ok checked headSeq headHash } }`
	for _, tok := range []string{h.token("water", "admin"), h.token("urban-management", "officer", "dispatcher"), ""} {
		if r := h.do(tok, q, nil); r.code(0) != "FORBIDDEN" || string(r.Data["auditChain"]) != "" && string(r.Data["auditChain"]) != "null" {
			t.Errorf("a non-auditor verified the chain: %s %+v", r.Data["auditChain"], r.Errors)
		}
	}
	r := h.do(h.token("urban-management", "auditor"), q, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("auditor: %+v", r.Errors)
	}
	c := decode[struct {
		OK       bool
		Checked  int
		HeadHash string
	}](t, r.Data["auditChain"])
	if !c.OK || c.HeadHash == "" && c.Checked > 0 {
		t.Fatalf("auditor's verification: %+v", c)
	}
}
