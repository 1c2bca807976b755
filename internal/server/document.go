package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
)

// Document limits, checked before a document is validated.
const (
	// MaxTokensDefault bounds a document's tokens: several times the
	// largest operation a front-end or a gateway sends, about 100 KB of
	// query text.
	MaxTokensDefault = 20_000
	// MaxSelectionsDefault bounds a document's selections (fields, inline
	// fragments and spreads; each fragment counted once).
	MaxSelectionsDefault = 5_000
	// MaxFieldPairsDefault bounds the pairs of fields answering under one
	// response key (alias or name) at one place of the response.
	// Validation compares such fields pairwise (the rule that overlapping
	// fields can be merged), about a microsecond a pair: 50,000
	// `a: __typename` (1.25 billion pairs) took minutes; 10,000 pairs (141
	// fields under one key) take about 10 ms.
	MaxFieldPairsDefault = 10_000
)

// documentLimit refuses a document too large to validate cheaply, before
// it is validated. gqlparser's validation takes no context and is
// quadratic in the fields sharing a response key, so the request deadline
// cannot stop it once it runs: the document's size must be bounded first.
// Documents already in the query cache were checked when they were added.
type documentLimit struct {
	maxTokens, maxSelections, maxPairs int
	cache                              graphql.Cache[*ast.QueryDocument]
}

var (
	_ graphql.HandlerExtension          = documentLimit{}
	_ graphql.OperationParameterMutator = documentLimit{}
)

func (documentLimit) ExtensionName() string                   { return "DocumentLimit" }
func (documentLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator:
// it runs before the document is parsed and validated.
func (l documentLimit) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if ctx.Err() != nil {
		// Out of time already (or the client left): validating now would
		// only burn the CPU the deadline was meant to save.
		return coded(apperr.ServiceUnavailable, "the request ran out of time before it could be checked", nil)
	}
	if l.cache != nil {
		if _, ok := l.cache.Get(ctx, p.Query); ok {
			return nil
		}
	}
	src := &ast.Source{Input: p.Query}
	lex := lexer.New(src)
	for n := 0; ; n++ {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			// A lexical error is the parser's to report, with its code.
			break
		}
		if n >= l.maxTokens {
			return coded(apperr.BadUserInput, "the document has more than %d tokens: split it into smaller operations",
				map[string]any{"maxTokens": l.maxTokens}, l.maxTokens)
		}
	}
	doc, err := parser.ParseQuery(src)
	if err != nil {
		return nil // reported by the executor as GRAPHQL_PARSE_FAILED
	}
	if n := countSelections(doc); n > l.maxSelections {
		return coded(apperr.BadUserInput, "the document has %d selections, more than the %d allowed: split it into smaller operations",
			map[string]any{"maxSelections": l.maxSelections}, n, l.maxSelections)
	}
	m := newMergeCounter(doc, 4*l.maxSelections)
	for _, op := range doc.Operations {
		m.merged([]ast.SelectionSet{op.SelectionSet})
	}
	for _, f := range doc.Fragments {
		m.merged([]ast.SelectionSet{f.SelectionSet})
	}
	if m.visited > m.budget {
		return coded(apperr.BadUserInput, "the document's fragments expand to more than %d fields: spread fewer fragments inside one another",
			map[string]any{"maxSelections": l.maxSelections}, m.budget)
	}
	if m.pairs > l.maxPairs {
		return coded(apperr.BadUserInput, "%d fields answer as %q in one selection, and fields under one name are compared pairwise: give them distinct aliases or ask once",
			map[string]any{"maxFieldPairs": l.maxPairs}, m.worstCount, m.worstKey)
	}
	return nil
}

// countSelections counts a document's selections as written: fragment
// spreads are not followed, each definition counts once.
func countSelections(doc *ast.QueryDocument) int {
	var count func(ast.SelectionSet) int
	count = func(set ast.SelectionSet) int {
		n := len(set)
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				n += count(s.SelectionSet)
			case *ast.InlineFragment:
				n += count(s.SelectionSet)
			}
		}
		return n
	}
	total := 0
	for _, op := range doc.Operations {
		total += count(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		total += count(f.SelectionSet)
	}
	return total
}

// mergeCounter bounds the work of validation's overlapping-fields rule
// from above: at each response path it merges the fields that answer
// there (through inline fragments and fragment spreads), and every two
// fields under one response key make a pair to compare, their selections
// being merged below in turn. Fragment spreads are followed where they
// are used (validation memoizes some of that work; the bound does not),
// so the walk stops after budget fields.
type mergeCounter struct {
	frags      map[string]*ast.FragmentDefinition
	active     map[string]bool // fragments being expanded: a cycle is validation's to report
	budget     int
	visited    int
	pairs      int
	worstKey   string
	worstCount int
}

func newMergeCounter(doc *ast.QueryDocument, budget int) *mergeCounter {
	m := &mergeCounter{frags: map[string]*ast.FragmentDefinition{}, active: map[string]bool{}, budget: budget}
	for _, f := range doc.Fragments {
		m.frags[f.Name] = f
	}
	return m
}

// merged counts the pairs among the fields of sets, which answer at one
// response path, and below them.
func (m *mergeCounter) merged(sets []ast.SelectionSet) {
	counts := map[string]int{}
	below := map[string][]ast.SelectionSet{}
	var keys []string
	var collect func(ast.SelectionSet)
	collect = func(set ast.SelectionSet) {
		for _, sel := range set {
			if m.visited > m.budget {
				return
			}
			switch s := sel.(type) {
			case *ast.Field:
				m.visited++
				key := s.Alias
				if key == "" {
					key = s.Name
				}
				if counts[key] == 0 {
					keys = append(keys, key)
				}
				counts[key]++
				if len(s.SelectionSet) > 0 {
					below[key] = append(below[key], s.SelectionSet)
				}
			case *ast.InlineFragment:
				collect(s.SelectionSet)
			case *ast.FragmentSpread:
				if def := m.frags[s.Name]; def != nil && !m.active[s.Name] {
					m.active[s.Name] = true
					collect(def.SelectionSet)
					delete(m.active, s.Name)
				}
			}
		}
	}
	for _, set := range sets {
		collect(set)
	}
	for _, key := range keys {
		n := counts[key]
		m.pairs = satAdd(m.pairs, n*(n-1)/2)
		if n > m.worstCount {
			m.worstKey, m.worstCount = key, n
		}
		if len(below[key]) > 0 && m.visited <= m.budget {
			m.merged(below[key])
		}
	}
}

// coded returns a GraphQL error carrying code and extra extensions.
func coded(code apperr.Code, format string, extra map[string]any, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": string(code)}
	for k, v := range extra {
		err.Extensions[k] = v
	}
	return err
}
