package graph

import "testing"

// TestCaseFieldsNameTheirParts: a field the fast path writes without a part
// named in caseFieldParts would be written from a case read without it.
func TestCaseFieldsNameTheirParts(t *testing.T) {
	for name := range caseFields {
		if _, ok := caseFieldParts[name]; !ok {
			t.Errorf("case field %q: no part in caseFieldParts", name)
		}
	}
	for name := range caseFieldParts {
		if _, ok := caseFields[name]; !ok {
			t.Errorf("caseFieldParts names %q, which caseFields does not let through", name)
		}
	}
}
