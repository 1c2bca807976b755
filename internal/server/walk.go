package server

import "github.com/vektah/gqlparser/v2/ast"

// walkFields calls visit for every field of an operation's selection set,
// in document order, following inline fragments and fragment spreads. root
// tells visit whether the field is a root field (a field of the operation
// itself, directly or through fragments). Each fragment definition is
// followed once per root-ness, so fragments spreading one another cannot
// make the walk longer than the document. The walk stops as soon as visit
// returns true.
func walkFields(set ast.SelectionSet, visit func(f *ast.Field, root bool) (stop bool)) {
	w := fieldWalk{visit: visit, seen: map[fragmentUse]bool{}}
	w.walk(set, true)
}

type fragmentUse struct {
	def  *ast.FragmentDefinition
	root bool
}

type fieldWalk struct {
	visit func(f *ast.Field, root bool) bool
	seen  map[fragmentUse]bool
}

func (w *fieldWalk) walk(set ast.SelectionSet, root bool) (stopped bool) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if w.visit(s, root) || w.walk(s.SelectionSet, false) {
				return true
			}
		case *ast.InlineFragment:
			if w.walk(s.SelectionSet, root) {
				return true
			}
		case *ast.FragmentSpread:
			use := fragmentUse{s.Definition, root}
			if s.Definition != nil && !w.seen[use] {
				w.seen[use] = true
				if w.walk(s.Definition.SelectionSet, root) {
					return true
				}
			}
		}
	}
	return false
}
