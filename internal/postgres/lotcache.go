package postgres

import (
	"sync"
	"time"

	"github.com/fengcheng/datahub/internal/parking"
	"github.com/google/uuid"
)

// lotCacheMax bounds the decoded lots a store keeps; a district has a few
// hundred lots, so reaching it means something unusual and the cache
// simply starts over.
const lotCacheMax = 10_000

// lotCacheTTL bounds how long a decoded lot is trusted. The row version it
// is checked against (xmin) is a 32-bit transaction id that wraps; an hour
// is far shorter than any wrap.
const lotCacheTTL = time.Hour

// lotCache keeps decoded parking lots by id with the row version (xmin)
// they were read at. A search reads only ids, versions and distances and
// takes a lot from here when its version still matches: decoding a lot's
// 28 columns and opening windows cost more than finding the nearest ones.
// Every UPDATE writes a new row version, so a matching xmin is the same
// row; the row scope and every filter still run in SQL.
type lotCache struct {
	mu   sync.RWMutex
	lots map[uuid.UUID]cachedLot
}

type cachedLot struct {
	xmin uint32
	read time.Time
	lot  *parking.Lot
}

func newLotCache() *lotCache {
	return &lotCache{lots: map[uuid.UUID]cachedLot{}}
}

// get returns a copy of the lot id at row version xmin, if kept: callers
// may set its fields without touching the cache (its opening windows are
// shared: nothing changes a lot's windows after they are read).
func (c *lotCache) get(id uuid.UUID, xmin uint32) (*parking.Lot, bool) {
	c.mu.RLock()
	e, ok := c.lots[id]
	c.mu.RUnlock()
	if !ok || e.xmin != xmin || time.Since(e.read) > lotCacheTTL {
		return nil, false
	}
	l := *e.lot
	return &l, true
}

// put keeps a copy of lot as read at row version xmin.
func (c *lotCache) put(lot *parking.Lot, xmin uint32) {
	l := *lot
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lots) >= lotCacheMax {
		clear(c.lots)
	}
	c.lots[lot.ID] = cachedLot{xmin: xmin, read: time.Now(), lot: &l}
}
