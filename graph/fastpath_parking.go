package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
)

// The fast path of the citizen app's parking search, parkingLotsNear (see
// FastPath). A lot's contact is personal data under an @access rule, and
// openToPublic(at:) and canMove(at:) take arguments: a query selecting them
// goes to the executor.

var (
	windowsFields = fastFields{"__typename": nil, "hours": nil, "weekday": nil, "restDayAllDay": nil, "restDay": nil, "noMovement": nil}
	lotFields     = fastFields{
		"__typename": nil, "id": nil, "name": nil, "kind": nil, "address": nil, "operator": nil, "isGovernment": nil,
		"totalSpaces": nil, "sharedSpaces": nil, "maxSeats": nil, "bookingRule": nil, "feeRule": nil, "openedAt": nil,
		"version":        nil,
		"location":       geoPointFields,
		"jurisdiction":   jurisdictionFields,
		"ownerDept":      departmentFields,
		"sharingWindows": windowsFields,
		"freeSpaces":     {"__typename": nil, "free": nil, "at": nil},
	}
	nearbyFields = fastFields{"__typename": nil, "distanceMeters": nil, "openToPublic": nil, "canMove": nil, "lot": lotFields}
)

// nearArgs are parkingLotsNear's arguments, coerced as the executor
// coerces them.
type nearArgs struct {
	lat, lng       float64
	radius         *float64
	openAt         *time.Time
	first          *int
	hasLat, hasLng bool
}

// fastNearArgs reads the arguments with gqlgen's own unmarshalers; anything
// they refuse goes to the executor, which reports it.
func fastNearArgs(ctx context.Context, f *ast.Field, vars map[string]any) (nearArgs, bool) {
	var a nearArgs
	optInt := func(v any) (*int, bool) {
		n, err := graphql.UnmarshalInt(v)
		return &n, err == nil
	}
	for name, v := range f.ArgumentMap(vars) {
		if v == nil {
			continue
		}
		var err error
		ok := true
		switch name {
		case "lat":
			a.lat, err = graphql.UnmarshalFloatContext(ctx, v)
			a.hasLat = true
		case "lng":
			a.lng, err = graphql.UnmarshalFloatContext(ctx, v)
			a.hasLng = true
		case "radiusMeters":
			var n *int
			if n, ok = optInt(v); ok {
				r := float64(*n)
				a.radius = &r
			}
		case "openAt":
			var t time.Time
			t, err = model.UnmarshalDateTime(v)
			a.openAt = &t
		case "first":
			a.first, ok = optInt(v)
		default:
			return nearArgs{}, false
		}
		if err != nil || !ok {
			return nearArgs{}, false
		}
	}
	return a, a.hasLat && a.hasLng
}

// fastNearby finds the lots; false hands the query to the executor.
func (r *Resolver) fastNearby(ctx context.Context, w *fastWriter, root *ast.Field, vars map[string]any) (fastValue, bool) {
	a, ok := fastNearArgs(ctx, root, vars)
	if !ok {
		return nil, false
	}
	list, err := r.ParkingService.Near(ctx, a.lat, a.lng, a.radius, a.openAt, a.first)
	if err != nil {
		return nil, false // the executor meets the same error and reports it
	}
	w.buf.Grow(256 + len(list)*512)
	if selects(root.SelectionSet, "freeSpaces") {
		ids := make([]uuid.UUID, len(list))
		for i := range list {
			ids[i] = list[i].Lot.ID
		}
		if w.free, err = r.ParkingService.Availability(ctx, ids); err != nil {
			return nil, false
		}
	}
	deptCodes, jurCodes := make([]string, len(list)), make([]string, len(list))
	for i := range list {
		deptCodes[i], jurCodes[i] = list[i].Lot.OwnerDept, list[i].Lot.JurisdictionCode
	}
	if err := r.fastDirectory(ctx, w, deptCodes, jurCodes); err != nil {
		return nil, false
	}
	return func(w *fastWriter, set ast.SelectionSet) bool {
		w.buf.WriteByte('[')
		for i := range list {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if !w.nearby(set, &list[i]) {
				return false
			}
		}
		w.buf.WriteByte(']')
		return true
	}, true
}

func (w *fastWriter) nearby(set ast.SelectionSet, n *parking.Nearby) bool {
	return w.object(set, "NearbyLot", func(f *ast.Field) bool {
		switch f.Name {
		case "distanceMeters":
			return w.float(n.DistanceMeters)
		case "openToPublic":
			w.boolean(n.OpenToPublic())
		case "canMove":
			w.boolean(n.CanMove())
		case "lot":
			return w.lot(f.SelectionSet, n.Lot)
		}
		return true
	})
}

func (w *fastWriter) lot(set ast.SelectionSet, l *parking.Lot) bool {
	return w.object(set, "ParkingLot", func(f *ast.Field) bool {
		switch f.Name {
		case "id":
			graphql.MarshalUUID(l.ID).MarshalGQL(w.buf)
		case "name":
			w.str(l.Name)
		case "kind":
			w.str(string(l.Kind))
		case "address":
			w.str(l.Address)
		case "operator":
			w.str(l.Operator)
		case "isGovernment":
			w.boolean(l.IsGovernment)
		case "totalSpaces":
			w.integer(l.TotalSpaces)
		case "sharedSpaces":
			w.integer(l.SharedSpaces)
		case "maxSeats":
			w.intOrNull(l.MaxSeats)
		case "bookingRule":
			w.str(l.BookingRule)
		case "feeRule":
			w.str(l.FeeRule)
		case "openedAt":
			w.optTime(l.OpenedAt)
		case "version":
			w.integer(l.Version)
		case "location":
			return w.location(f.SelectionSet, l.Lat, l.Lng)
		case "jurisdiction":
			return w.jurisdiction(f.SelectionSet, l.JurisdictionCode)
		case "ownerDept":
			return w.department(f.SelectionSet, l.OwnerDept)
		case "sharingWindows":
			return w.windows(f.SelectionSet, &l.Windows)
		case "freeSpaces":
			return w.freeSpaces(f.SelectionSet, l.ID)
		}
		return true
	})
}

func (w *fastWriter) strings(list []string) {
	w.buf.WriteByte('[')
	for i, s := range list {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.str(s)
	}
	w.buf.WriteByte(']')
}

func (w *fastWriter) windows(set ast.SelectionSet, win *parking.Windows) bool {
	return w.object(set, "SharingWindows", func(f *ast.Field) bool {
		switch f.Name {
		case "hours":
			w.strings(rangeStrings(win.Hours))
		case "weekday":
			w.strings(rangeStrings(win.Weekday))
		case "restDayAllDay":
			w.boolean(win.RestDayAllDay)
		case "restDay":
			w.strings(rangeStrings(win.RestDay))
		case "noMovement":
			if win.NoMovement == nil {
				w.null()
			} else {
				w.str(win.NoMovement.String())
			}
		}
		return true
	})
}

func (w *fastWriter) freeSpaces(set ast.SelectionSet, id uuid.UUID) bool {
	a, ok := w.free[id]
	if !ok {
		w.null()
		return true
	}
	return w.object(set, "FreeSpaces", func(f *ast.Field) bool {
		switch f.Name {
		case "free":
			w.integer(a.Free)
		case "at":
			w.datetime(a.At)
		}
		return true
	})
}
