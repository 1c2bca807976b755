package postgres

// CountGroupColumns lists, for the package's external tests, each table
// of maintained counts with the row-scope columns its groups must carry:
// a scope column added to a table's row scope must reach its count groups
// too, or the count would be judged on less than the list is.
func CountGroupColumns() map[string][]string {
	out := map[string][]string{}
	for _, nt := range []nestedTable{casesNested, violationsNested, propertiesNested, lotsNested} {
		if nt.counts == "" {
			continue
		}
		out[nt.counts] = append([]string{nt.scope.path, nt.scope.street}, nt.scope.depts...)
	}
	return out
}
