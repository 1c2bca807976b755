// Package csvcell makes text safe to put in a CSV cell that a spreadsheet
// will open. Every CSV the hub writes passes its text cells through Text.
package csvcell

// Text neutralizes a text cell a spreadsheet would run as a formula (CSV
// formula injection): a cell starting with =, +, -, @, a tab or a carriage
// return gets a leading apostrophe, which spreadsheets hide and which turns
// the cell into plain text. Apply it to text columns only: a number column
// keeps -3.5 as a number. Other text is returned unchanged.
func Text(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
