package evaluation

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
)

// KAnonymityDefault is the smallest number of rows any combination of a
// snapshot's quasi-identifiers may have, and so the smallest snapshot.
const KAnonymityDefault = 5

// SuppressMaxShare bounds the rows withheld when even the coarsest
// generalization leaves small combinations: up to 1 % of the rows (the
// rare classes at night, typically) are withheld and counted in the
// manifest; beyond that the snapshot is refused. More would bias the
// figures an assessment recomputes.
const SuppressMaxShare = 0.01

// Record is a source record a snapshot reads, personal data included; it
// never leaves the server.
type Record interface {
	// values renders the record under a's schema and generalization.
	values(a *Anonymizer) []value
	// quasi returns the record's quasi-identifiers.
	quasi() Quasi
}

// Quasi are the quasi-identifiers of a record: what someone who knows a
// person could match a row on (where, what, at what time of day).
type Quasi struct {
	Street, Community string
	// Class is the finest class ("EVENT/0501", "ILLEGAL_CONSTRUCTION/
	// ROOFTOP_ADDITION"), Major its coarser class, Kind the coarsest
	// ("EVENT").
	Class, Major, Kind string
	At                 time.Time
	Lat, Lng           float64
}

// QICount is how many source rows share one combination of the finest
// quasi-identifiers, counted by the store in the snapshot's reading
// transaction. Hour is the local hour of day (0–23); Lat and Lng are
// rounded to 0.001° and zero unless the profile publishes coordinates.
type QICount struct {
	Street, Community, Class, Major, Kind string
	Hour                                  int
	Lat, Lng                              float64
	Rows                                  int64
}

// Location is how finely a generalization publishes where a record is.
type Location int

// Locations, finest first.
const (
	LocationCoordinates Location = iota // coordinates rounded to 0.001°, and the community
	LocationCommunity
	LocationStreet
)

// Generalization says which quasi-identifiers a snapshot publishes
// coarser than its schema's finest form.
type Generalization struct {
	// Coordinates: rounded coordinates are published (the profile asked
	// for them and k-anonymity allows them).
	Coordinates bool `json:"coordinates"`
	// PartOfDay: every time is truncated to its 6-hour part of day
	// (00–06, 06–12, 12–18, 18–24 local time) instead of the hour.
	PartOfDay bool `json:"partOfDay"`
	// Street: the community is withheld; the street remains.
	Street bool `json:"street"`
	// Major: the minor class is withheld; the major class remains.
	Major bool `json:"major"`
	// Day: times are truncated to the local day: the hour is withheld.
	Day bool `json:"day"`
	// KindOnly: the major class is withheld too; the kind remains.
	KindOnly bool `json:"kindOnly"`
}

// Location returns how finely g publishes where a record is.
func (g Generalization) Location() Location {
	switch {
	case g.Street:
		return LocationStreet
	case g.Coordinates:
		return LocationCoordinates
	}
	return LocationCommunity
}

// KAnonymity is a manifest's account of k-anonymity: the threshold, the
// quasi-identifiers, what was generalized to reach it and the smallest
// group that remains.
type KAnonymity struct {
	K int `json:"k"`
	// QuasiIdentifiers name the columns the combinations are taken over.
	QuasiIdentifiers []string       `json:"quasiIdentifiers,omitempty"`
	Generalization   Generalization `json:"generalization"`
	// Generalized says in words what was generalized (empty: nothing).
	Generalized []string `json:"generalized"`
	// Groups is the number of distinct combinations, SmallestGroup the
	// rows of the smallest.
	Groups        int `json:"groups"`
	SmallestGroup int `json:"smallestGroup"` // int: GraphQL's Int binds to it
	// Suppressed rows were withheld, in SuppressedGroups combinations that
	// stayed below K under the coarsest generalization (at most
	// SuppressMaxShare of the rows).
	Suppressed       int `json:"suppressed"`
	SuppressedGroups int `json:"suppressedGroups"`
	// NotApplicable says why a dataset has no quasi-identifiers (records of
	// public facilities); the minimum size still applies.
	NotApplicable string `json:"notApplicable,omitempty"`
}

// partOfDay truncates t to the start of its 6-hour part of day in loc.
func partOfDay(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour()/6*6, 0, 0, 0, loc)
}

// ladder lists the generalizations tried, least information lost first:
// the hour becomes the part of day (evaluation figures need dates, not
// hours), then coordinates are withheld, then the community becomes the
// street, then the minor class the major class, then times keep only the
// day, and last only the kind of class remains.
func ladder(coords bool) []Generalization {
	out := []Generalization{{Coordinates: coords}, {Coordinates: coords, PartOfDay: true}}
	if coords {
		out = append(out, Generalization{PartOfDay: true})
	}
	return append(out, Generalization{PartOfDay: true, Street: true}, Generalization{PartOfDay: true, Street: true, Major: true},
		Generalization{PartOfDay: true, Day: true, Street: true, Major: true},
		Generalization{PartOfDay: true, Day: true, Street: true, Major: true, KindOnly: true})
}

func (g Generalization) key(c *QICount) string {
	var where string
	switch g.Location() {
	case LocationCoordinates:
		where = c.Community + "@" + strconv.FormatFloat(c.Lat, 'f', 3, 64) + "," + strconv.FormatFloat(c.Lng, 'f', 3, 64)
	case LocationCommunity:
		where = c.Street + "/" + c.Community
	default:
		where = c.Street
	}
	class := c.Class
	switch {
	case g.KindOnly:
		class = c.Kind
	case g.Major:
		class = c.Major
	}
	when := c.Hour
	switch {
	case g.Day:
		when = 0
	case g.PartOfDay:
		when /= 6
	}
	return where + "\x00" + class + "\x00" + strconv.Itoa(when)
}

// groups returns the rows of each combination under g.
func (g Generalization) groups(counts []QICount) map[string]int64 {
	m := map[string]int64{}
	for i := range counts {
		m[g.key(&counts[i])] += counts[i].Rows
	}
	return m
}

// smallestOf returns the rows of the smallest group, ignoring the
// suppressed ones.
func smallestOf(m map[string]int64, suppressed map[string]bool) int64 {
	var smallest int64 = -1
	for key, n := range m {
		if !suppressed[key] && (smallest < 0 || n < smallest) {
			smallest = n
		}
	}
	return smallest
}

// Plan chooses the least generalization under which every combination of
// the quasi-identifiers has at least k rows, applies it to the schema and
// returns the manifest's account. BAD_USER_INPUT (field filter) when the
// snapshot has fewer than k rows, or when even the coarsest generalization
// (street, kind of class, day) leaves smaller combinations holding more
// than SuppressMaxShare of the rows: the
// filter must be widened. A dataset without quasi-identifiers is only held
// to the minimum size.
func (a *Anonymizer) Plan(counts []QICount, k int) (*KAnonymity, error) {
	if k < 1 {
		k = KAnonymityDefault
	}
	var rows int64
	for _, c := range counts {
		rows += c.Rows
	}
	if rows < int64(k) {
		return nil, apperr.Invalid("filter", "the filter selects %d rows: an assessment dataset needs at least %d (k-anonymity), widen the filter", rows, k)
	}
	d, _ := snapshotDataset(a.dataset)
	if len(d.quasi) == 0 {
		return &KAnonymity{K: k, Generalized: []string{}, Groups: 1, SmallestGroup: int(rows), NotApplicable: d.noQuasi}, nil
	}
	steps := ladder(a.profile.Coordinates)
	var m map[string]int64
	for _, g := range steps {
		m = g.groups(counts)
		if smallest := smallestOf(m, nil); smallest >= int64(k) {
			a.generalize(g)
			return &KAnonymity{K: k, QuasiIdentifiers: d.quasi, Generalization: g, Generalized: a.generalized(g),
				Groups: len(m), SmallestGroup: int(smallest)}, nil
		}
	}
	// Under the coarsest generalization, withhold the rows of the
	// combinations still below k, if they are few.
	g := steps[len(steps)-1]
	small := map[string]bool{}
	var withheld int64
	for key, n := range m {
		if n < int64(k) {
			small[key] = true
			withheld += n
		}
	}
	if float64(withheld) > SuppressMaxShare*float64(rows) || rows-withheld < int64(k) {
		return nil, apperr.Invalid("filter", "even with the location generalized to the street, the class to its kind and times to the day, "+
			"%d of the %d combinations of (%s) hold fewer than %d rows (k-anonymity), %d rows in all, more than the %.0f %% that may be withheld: "+
			"widen the filter (a longer period or a larger jurisdiction)",
			len(small), len(m), strings.Join(d.quasi, "; "), k, withheld, SuppressMaxShare*100)
	}
	a.generalize(g)
	a.suppressed = small
	return &KAnonymity{K: k, QuasiIdentifiers: d.quasi, Generalization: g, Generalized: a.generalized(g),
		Groups: len(m) - len(small), SmallestGroup: int(smallestOf(m, small)), Suppressed: int(withheld), SuppressedGroups: len(small)}, nil
}

// Suppressed reports whether Plan withheld r: its combination of
// quasi-identifiers stayed below k. The store skips such rows.
func (a *Anonymizer) Suppressed(r Record) bool {
	if len(a.suppressed) == 0 {
		return false
	}
	q := r.quasi()
	c := QICount{Street: q.Street, Community: q.Community, Class: q.Class, Major: q.Major, Kind: q.Kind, Hour: q.At.In(a.loc).Hour()}
	if a.profile.Coordinates {
		c.Lat, c.Lng = roundTo3(q.Lat), roundTo3(q.Lng)
	}
	return a.suppressed[a.gen.key(&c)]
}

// generalize applies g to the rendering and to the columns' descriptions.
func (a *Anonymizer) generalize(g Generalization) {
	a.gen = g
	cols := make([]Column, len(a.cols))
	copy(cols, a.cols)
	for i := range cols {
		c := &cols[i]
		switch {
		case c.Type == "timestamp" && g.Day && c.Anonymization == anonHour:
			c.Anonymization = fmt.Sprintf("generalized for k-anonymity: truncated to the day (00:00 %s)", a.loc)
		case c.Type == "timestamp" && g.PartOfDay && c.Anonymization == anonHour:
			c.Anonymization = fmt.Sprintf("generalized for k-anonymity: truncated to the part of day (6-hour blocks from 00:00 %s)", a.loc)
		case c.Name == "major_code" && g.KindOnly:
			c.Anonymization = "generalized for k-anonymity to kind: withheld (null)"
		case c.Name == "community_code" && g.Street:
			c.Anonymization = "generalized for k-anonymity to street_code: withheld (null)"
		case c.Name == "minor_code" && g.Major:
			c.Anonymization = "generalized for k-anonymity to major_code: withheld (null)"
		case (c.Name == "lat" || c.Name == "lng") && a.profile.Coordinates && !g.Coordinates:
			c.Anonymization = "withheld for k-anonymity (null): coordinates would single out rows"
		}
	}
	a.cols = cols
}

func (a *Anonymizer) generalized(g Generalization) []string {
	out := []string{}
	switch {
	case g.Day:
		out = append(out, "hour → day (times truncated to 00:00 "+a.loc.String()+")")
	case g.PartOfDay:
		out = append(out, "hour → part of day (00–06, 06–12, 12–18, 18–24 "+a.loc.String()+")")
	}
	if a.profile.Coordinates && !g.Coordinates {
		out = append(out, "coordinates → withheld")
	}
	if g.Street {
		out = append(out, "community → street")
	}
	switch {
	case g.KindOnly:
		out = append(out, "minor and major class → kind")
	case g.Major:
		out = append(out, "minor class → major class")
	}
	return out
}

// CountQuasi counts records by their finest quasi-identifiers, as the
// store does in SQL: for tests and in-memory callers.
func CountQuasi(records []Record, loc *time.Location, coords bool) []QICount {
	idx := map[QICount]int{}
	var out []QICount
	for _, r := range records {
		q := r.quasi()
		c := QICount{Street: q.Street, Community: q.Community, Class: q.Class, Major: q.Major, Kind: q.Kind, Hour: q.At.In(loc).Hour()}
		if coords {
			c.Lat, c.Lng = roundTo3(q.Lat), roundTo3(q.Lng)
		}
		if i, ok := idx[c]; ok {
			out[i].Rows++
			continue
		}
		idx[c] = len(out)
		c.Rows = 1
		out = append(out, c)
	}
	return out
}

func roundTo3(v float64) float64 { return math.Round(v*1000) / 1000 }
