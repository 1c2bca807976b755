// Package links names the relations between datasets that nested GraphQL
// fields follow (a compound's cases, a street's violations…), so every
// dataset's service and store speak of them the same way.
package links

import (
	"strings"

	"github.com/fengcheng/datahub/internal/apperr"
)

// Parent is what a nested list hangs from.
type Parent string

// Parents.
const (
	// ParentJurisdiction keys are dotted jurisdiction codes: the list holds
	// the records in that subtree.
	ParentJurisdiction Parent = "jurisdiction"
	// ParentProperty keys are property ids: records about that compound.
	ParentProperty Parent = "property"
)

// Level is the depth of a jurisdiction code: 1 district, 2 street/town,
// 3 community, 4 grid.
func Level(code string) int { return strings.Count(code, ".") + 1 }

// GridLevel is the Level of a grid, the jurisdiction tree's leaves
// (district → street/town → community → grid).
const GridLevel = 4

// FirstMax caps a nested list's page: nested lists show the first few
// records; the root lists paginate.
const FirstMax = 50

// FirstDefault is a nested list's page size when neither first nor last
// is given.
const FirstDefault = 5

// CheckFirst validates a nested page size as the store receives it (one
// more than the page, to know whether more follow).
func CheckFirst(first int) error {
	if first < 0 || first > FirstMax+1 {
		return apperr.Invalid("first", "nested lists show 0 to %d records; page through the root list for more", FirstMax)
	}
	return nil
}
