package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/pubsub"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Defaults for BrokerConfig.
const (
	BufferDefault      = 256
	BlockDefault       = time.Second
	ReadCountDefault   = 500
	DedupWindowDefault = 8192
	HealthCheckDefault = 5 * time.Second
)

// BrokerConfig configures a Broker. Zero values take the defaults above and
// the relay's (RetryMaxDefault, CheckIntervalDefault).
type BrokerConfig struct {
	// Prefix namespaces the stream and the availability channel; it must
	// match the relay's. Default PrefixDefault.
	Prefix string
	// Buffer is how many events a subscriber may fall behind before it is
	// dropped (ErrSlowSubscriber).
	Buffer int
	// Block is how long one XREAD waits for new entries. Run notices that
	// its context ended within Block, as go-redis cannot interrupt a read.
	Block time.Duration
	// ReadCount is how many entries one XREAD returns at most.
	ReadCount int64
	// DedupWindow is how many recent event ids the broker remembers to
	// drop repeats.
	DedupWindow int
	// CheckInterval is how often the broker checks that the stream still
	// holds the last entry it read (see the package doc).
	CheckInterval time.Duration
	// HealthCheck is how long the availability subscription may stay
	// silent before it is pinged.
	HealthCheck time.Duration
	// RetryMax caps the pause between attempts while Redis is unreachable.
	RetryMax time.Duration
	// Logger receives failures and recoveries. Default slog.Default().
	Logger *slog.Logger
	// OnChange, when set, is told of every event the broker reads and of
	// every loss and recovery of the stream: live says whether events are
	// being heard. It runs on the broker's goroutine and must be fast. A
	// cache of answers derived from the data drops them on every call.
	OnChange func(live bool)
}

// Filter selects the events one subscription receives.
type Filter struct {
	// Scopes maps every dataset the subscriber listens to onto its row
	// scope there (access.Decision.Rows for that dataset). Events of other
	// datasets are never delivered; a zero scope delivers nothing.
	Scopes map[string]access.RowScope
	// RecordIDs, when not empty, limits the subscription to these records.
	RecordIDs []string
	// Match, when set, must also accept the event. It runs on the
	// broker's goroutine, after the scope check, for every candidate
	// event: it must be fast and must not block.
	Match func(Event) bool
	// Since, when set, replays the stream's entries published from that
	// instant on (stream ids are millisecond timestamps) before the live
	// ones, with nothing lost or reordered in between: how a subscriber
	// that lost its connection resumes. Check it with Replayable first.
	Since time.Time
}

// Broker fans events out to this instance's subscribers. Run one per
// instance. Its methods are safe for concurrent use.
type Broker struct {
	rdb       redis.UniversalClient
	cfg       BrokerConfig
	stream    string
	availChan string
	log       *slog.Logger

	ready     chan struct{}
	readyLeft int // guarded by mu; ready closes when it reaches 0

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	avail  map[*availSubscriber]struct{}
	closed bool
	// down is set while the event loop cannot reach Redis (from its first
	// failure to its next successful read): subscriptions are refused and
	// the open ones were ended with ErrUnavailable.
	down bool

	// Owned by Run's event goroutine.
	lastID      string // last entry read; "0-0" reads from the start
	lastEventID string
	cp          *checkpoint // the last entry read before the previous check
	first       *checkpoint // the first entry read since the previous check
	lastCheck   time.Time
	needCheck   bool
	seen        dedup
}

type subscriber struct {
	ch chan Event
	// replaying is set while the stream is replayed to the subscriber
	// (Filter.Since); live events wait in pending meanwhile. Both under mu.
	replaying bool
	pending   []Event
	scopes    map[string]access.RowScope
	records   map[string]struct{}
	match     func(Event) bool
	stopAfter func() bool // stops the context.AfterFunc
}

type availSubscriber struct {
	ch        chan Availability
	lots      map[string]struct{}
	stopAfter func() bool
}

// NewBroker returns a broker reading from rdb. Start it with Run.
func NewBroker(rdb redis.UniversalClient, cfg BrokerConfig) *Broker {
	if cfg.Prefix == "" {
		cfg.Prefix = PrefixDefault
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = BufferDefault
	}
	if cfg.Block <= 0 {
		cfg.Block = BlockDefault
	}
	if cfg.ReadCount <= 0 {
		cfg.ReadCount = ReadCountDefault
	}
	if cfg.DedupWindow <= 0 {
		cfg.DedupWindow = DedupWindowDefault
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = CheckIntervalDefault
	}
	if cfg.HealthCheck <= 0 {
		cfg.HealthCheck = HealthCheckDefault
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = RetryMaxDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	stream := StreamKey(cfg.Prefix)
	return &Broker{
		rdb:       rdb,
		cfg:       cfg,
		stream:    stream,
		availChan: AvailabilityChannel(cfg.Prefix),
		log:       cfg.Logger.With("component", "events.broker", "stream", stream),
		ready:     make(chan struct{}),
		readyLeft: 2,
		subs:      make(map[*subscriber]struct{}),
		avail:     make(map[*availSubscriber]struct{}),
		seen:      newDedup(cfg.DedupWindow),
	}
}

// Ready is closed once Run has fixed its starting point in the stream and
// the availability subscription is confirmed: every event published and
// every availability reading sent after that reaches the subscribers.
func (b *Broker) Ready() <-chan struct{} { return b.ready }

func (b *Broker) markReady() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.readyLeft--
	if b.readyLeft == 0 {
		close(b.ready)
	}
}

// Run reads the stream and the availability channel and fans out until ctx
// ends; then it ends every subscription with ErrClosed and returns nil.
// Redis failures are logged and retried; they never end Run, but they end
// the subscriptions open at the time (ErrUnavailable). Call Run once.
func (b *Broker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.runAvailability(ctx)
	}()
	b.runEvents(ctx)
	wg.Wait()
	b.shutdown()
	return nil
}

// Subscribe registers a subscription and returns its channel and a function
// that ends it (closing the channel); ending ctx ends it too. Events arrive
// in stream order. A subscriber that lets Buffer events pile up is dropped:
// its last event carries ErrSlowSubscriber. When the broker stops, the last
// event carries ErrClosed. While the broker cannot reach Redis, the open
// subscriptions end and new ones are refused with ErrUnavailable (see
// Available); subscribing works again once the broker reads Redis again.
func (b *Broker) Subscribe(ctx context.Context, f Filter) (<-chan Event, func()) {
	s := &subscriber{
		// One slot more than Buffer, kept free for the final error event,
		// so that ending a subscription never waits for its reader.
		ch:     make(chan Event, b.cfg.Buffer+1),
		scopes: f.Scopes,
		match:  f.Match,
	}
	if len(f.RecordIDs) > 0 {
		s.records = make(map[string]struct{}, len(f.RecordIDs))
		for _, id := range f.RecordIDs {
			s.records[id] = struct{}{}
		}
	}
	b.mu.Lock()
	if b.closed || b.down {
		err := ErrClosed
		if !b.closed {
			err = ErrUnavailable
		}
		b.mu.Unlock()
		s.ch <- Event{Err: err}
		close(s.ch)
		return s.ch, func() {}
	}
	cancel := func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.dropLocked(s, nil)
	}
	b.subs[s] = struct{}{}
	s.replaying = !f.Since.IsZero()
	// Under mu: fanout may drop s, and calls stopAfter, as soon as mu is
	// released. If ctx has already ended, cancel runs once mu is free.
	s.stopAfter = context.AfterFunc(ctx, cancel)
	b.mu.Unlock()
	if s.replaying {
		go b.replay(ctx, s, f.Since)
	}
	return s.ch, cancel
}

// ErrReplayGone: the stream no longer holds every entry since the instant
// asked for (it was trimmed past it, or Redis lost it).
var ErrReplayGone = errors.New("events: the event stream no longer holds every change since then")

// Replayable returns nil when the stream still holds every entry published
// since since, ErrReplayGone when some may be gone (trimmed past it, or
// deleted after it).
func (b *Broker) Replayable(ctx context.Context, since time.Time) error {
	info, err := b.rdb.XInfoStream(ctx, b.stream).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return nil // nothing published yet, nothing trimmed
		}
		return fmt.Errorf("stream info: %w", err)
	}
	from := fmt.Sprintf("%d-0", since.UnixMilli())
	// Trimming (MAXLEN) removes the oldest entries and leaves no mark but
	// the count: when entries were removed, the first one left must not
	// lie after since. XDEL leaves max-deleted-entry-id.
	if info.EntriesAdded > info.Length && info.FirstEntry.ID != "" && streamBefore(from, info.FirstEntry.ID) {
		return ErrReplayGone
	}
	if info.MaxDeletedEntryID != "" && !streamBefore(info.MaxDeletedEntryID, from) {
		return ErrReplayGone
	}
	return nil
}

// replay sends s the stream's entries from since on, then the live events
// that arrived meanwhile (those after the last replayed entry), and turns
// s live. It stops when s is dropped or ctx ends.
func (b *Broker) replay(ctx context.Context, s *subscriber, since time.Time) {
	cursor, last := fmt.Sprintf("%d-0", since.UnixMilli()), ""
	for {
		msgs, err := b.rdb.XRangeN(ctx, b.stream, cursor, "+", b.cfg.ReadCount).Result()
		if err != nil {
			if ctx.Err() == nil {
				b.log.Warn("replaying events failed", "err", err)
			}
			b.mu.Lock()
			b.dropLocked(s, ErrUnavailable)
			b.mu.Unlock()
			return
		}
		for _, m := range msgs {
			last = m.ID
			if e, ok := b.decode(m); ok && !b.deliver(ctx, s, e) {
				return
			}
		}
		if int64(len(msgs)) < b.cfg.ReadCount {
			break
		}
		cursor = "(" + last
	}
	for {
		b.mu.Lock()
		if _, ok := b.subs[s]; !ok {
			b.mu.Unlock()
			return
		}
		if len(s.pending) == 0 {
			s.replaying = false
			b.mu.Unlock()
			return
		}
		e := s.pending[0]
		if last != "" && !streamBefore(last, e.StreamID) {
			s.pending = s.pending[1:] // replayed already
			b.mu.Unlock()
			continue
		}
		if len(s.ch) >= b.cfg.Buffer {
			b.mu.Unlock()
			if !pause(ctx) {
				return
			}
			continue
		}
		s.pending = s.pending[1:]
		s.ch <- e
		b.mu.Unlock()
	}
}

// deliver sends a replayed event to s if it wants it, waiting while s's
// buffer is full; false when s was dropped or ctx ended.
func (b *Broker) deliver(ctx context.Context, s *subscriber, e Event) bool {
	for {
		b.mu.Lock()
		if _, ok := b.subs[s]; !ok {
			b.mu.Unlock()
			return false
		}
		if !s.wants(&e) {
			b.mu.Unlock()
			return true
		}
		if len(s.ch) < b.cfg.Buffer {
			s.ch <- e
			b.mu.Unlock()
			return true
		}
		b.mu.Unlock()
		if !pause(ctx) {
			return false
		}
	}
}

// pause waits a little for a replaying subscriber to read; false when ctx
// ended.
func pause(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(20 * time.Millisecond):
		return true
	}
}

// streamBefore reports whether stream entry id a ("ms-seq") comes before b.
func streamBefore(a, b string) bool {
	am, as := splitStreamID(a)
	bm, bs := splitStreamID(b)
	return am < bm || (am == bm && as < bs)
}

func splitStreamID(id string) (ms, seq uint64) {
	m, sq, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(m, 10, 64)
	seq, _ = strconv.ParseUint(sq, 10, 64)
	return ms, seq
}

// Available returns ErrUnavailable while the broker cannot reach Redis (a
// subscription made now would end at once with it), ErrClosed once it has
// stopped, nil otherwise.
func (b *Broker) Available() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case b.down:
		return ErrUnavailable
	}
	return nil
}

// setDown records that Redis is unreachable and ends every subscription
// with ErrUnavailable: events published meanwhile may never reach this
// instance (the stream is capped, or lost with a Redis that restarts empty)
// and availability readings are not replayed, so a subscriber must not
// believe it is still being told everything. It subscribes again, and
// reads the current state, once Redis is back.
func (b *Broker) setDown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down || b.closed {
		return
	}
	b.down = true
	for s := range b.subs {
		b.dropLocked(s, ErrUnavailable)
	}
	for s := range b.avail {
		b.dropAvailLocked(s)
	}
}

// setUp records that the event loop reads Redis again.
func (b *Broker) setUp() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = false
}

// dropLocked ends subscription s, first sending err if not nil.
func (b *Broker) dropLocked(s *subscriber, err error) {
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	s.stopAfter()
	if err != nil {
		s.ch <- Event{Err: err} // the reserved slot: never blocks
	}
	close(s.ch)
}

// wants reports whether s should receive e.
func (s *subscriber) wants(e *Event) bool {
	scope, ok := s.scopes[e.Dataset]
	if !ok || !ScopeAllows(scope, *e) {
		return false
	}
	if s.records != nil {
		if _, ok := s.records[e.RecordID]; !ok {
			return false
		}
	}
	return s.match == nil || s.match(*e)
}

// fanout hands e to every subscriber that wants it, dropping those that
// fell behind.
func (b *Broker) fanout(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if !s.wants(&e) {
			continue
		}
		if s.replaying {
			// Held until the replay has caught up (Subscribe's Since).
			if len(s.pending) >= 4*b.cfg.Buffer {
				b.dropLocked(s, ErrSlowSubscriber)
				continue
			}
			s.pending = append(s.pending, e)
			continue
		}
		// Only the broker sends, under mu, so len can only shrink
		// between this check and the send: the send never blocks.
		if len(s.ch) >= b.cfg.Buffer {
			b.dropLocked(s, ErrSlowSubscriber)
			b.log.Warn("dropped a slow subscriber", "buffer", b.cfg.Buffer)
			continue
		}
		s.ch <- e
	}
}

// shutdown ends every subscription with ErrClosed.
func (b *Broker) shutdown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		b.dropLocked(s, ErrClosed)
	}
	for s := range b.avail {
		b.dropAvailLocked(s)
	}
}

// runEvents reads the stream until ctx ends.
func (b *Broker) runEvents(ctx context.Context) {
	var retry time.Duration
	fail := func(err error) bool {
		b.needCheck = true
		b.setDown()
		b.changed(false)
		if retry == 0 {
			b.log.Warn("reading events failed; retrying", "err", err)
		} else {
			b.log.Debug("reading events failed again", "err", err)
		}
		retry = pubsub.Backoff(retry, b.cfg.RetryMax)
		return pubsub.Pause(ctx, retry)
	}
	// Start after the newest entry, fixed explicitly rather than with "$":
	// "$" would be resolved only when the first XREAD arrives, and what was
	// published in between would be lost to subscribers that were told the
	// broker is ready.
	for {
		err := b.start(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			break
		}
		if !fail(err) {
			return
		}
	}
	b.markReady()
	b.changed(true)
	for ctx.Err() == nil {
		if b.needCheck || time.Since(b.lastCheck) >= b.cfg.CheckInterval {
			if err := b.check(ctx); err != nil {
				if ctx.Err() != nil || !fail(err) {
					return
				}
				continue
			}
		}
		res, err := b.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{b.stream, b.lastID},
			Count:   b.cfg.ReadCount,
			Block:   b.cfg.Block,
		}).Result()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, redis.Nil) {
			err = nil // nothing new within Block
		}
		if err != nil {
			if !fail(err) {
				return
			}
			continue
		}
		if retry != 0 {
			b.log.Info("reading events again")
			retry = 0
			b.setUp()
			b.changed(true)
		}
		for _, s := range res {
			for _, m := range s.Messages {
				b.handle(m)
			}
		}
	}
}

// start fixes the starting point: after the newest entry, or the stream's
// beginning if it is empty or missing.
func (b *Broker) start(ctx context.Context) error {
	newest, err := b.rdb.XRevRangeN(ctx, b.stream, "+", "-", 1).Result()
	if err != nil {
		return fmt.Errorf("find stream end: %w", err)
	}
	b.lastID, b.lastEventID = "0-0", ""
	if len(newest) == 1 {
		b.lastID = newest[0].ID
		b.lastEventID, _ = newest[0].Values[fieldID].(string)
	}
	b.cp, b.first = nil, nil
	if b.lastEventID != "" {
		b.cp = &checkpoint{id: b.lastID, eventID: b.lastEventID}
	}
	b.lastCheck = time.Now()
	b.needCheck = false
	return nil
}

// check verifies that the stream still holds the entry read last before
// the previous check and the entry read first since. If either is gone,
// the stream was lost or replaced since the previous check, and reading
// continues from the new stream's beginning: its ids may lie below the last
// one read (see the package doc). Either entry alone leaves a gap: the
// first when the stream is replaced before anything was read since the
// previous check, the second when nothing had been read before it.
func (b *Broker) check(ctx context.Context) error {
	var ok = true
	for _, cp := range []*checkpoint{b.cp, b.first} {
		if cp == nil || !ok {
			continue
		}
		held, err := holdsEntry(ctx, b.rdb, b.stream, cp.id, cp.eventID)
		if err != nil {
			return fmt.Errorf("check stream: %w", err)
		}
		ok = held
	}
	if !ok {
		b.log.Warn("event stream lost entries this instance read (Redis restarted or failed over); reading it from the start",
			"last", b.lastID)
		b.lastID, b.lastEventID = "0-0", ""
	}
	b.cp, b.first = nil, nil
	if b.lastEventID != "" {
		b.cp = &checkpoint{id: b.lastID, eventID: b.lastEventID}
	}
	b.lastCheck = time.Now()
	b.needCheck = false
	return nil
}

// handle decodes one entry and fans it out unless it is a repeat.
func (b *Broker) handle(m redis.XMessage) {
	id, _ := m.Values[fieldID].(string)
	b.lastID, b.lastEventID = m.ID, id
	if b.first == nil && id != "" {
		b.first = &checkpoint{id: m.ID, eventID: id}
	}
	e, ok := b.decode(m)
	if !ok || !b.seen.add(e.ID) {
		return
	}
	b.fanout(e)
	b.changed(true)
}

// changed tells OnChange, if set.
func (b *Broker) changed(live bool) {
	if b.cfg.OnChange != nil {
		b.cfg.OnChange(live)
	}
}

// decode reads one stream entry's event; false for an unreadable one.
func (b *Broker) decode(m redis.XMessage) (Event, bool) {
	data, _ := m.Values[fieldEvent].(string)
	var e Event
	if err := json.Unmarshal([]byte(data), &e); err != nil || e.ID == uuid.Nil {
		b.log.Warn("skipped an unreadable stream entry", "entry", m.ID, "err", err)
		return Event{}, false
	}
	e.StreamID = m.ID
	return e, true
}

// dedup remembers the last n event ids.
type dedup struct {
	ring []uuid.UUID
	next int
	set  map[uuid.UUID]struct{}
}

func newDedup(n int) dedup {
	return dedup{ring: make([]uuid.UUID, n), set: make(map[uuid.UUID]struct{}, n)}
}

// add records id and reports whether it was new.
func (d *dedup) add(id uuid.UUID) bool {
	if _, ok := d.set[id]; ok {
		return false
	}
	if old := d.ring[d.next]; old != uuid.Nil {
		delete(d.set, old)
	}
	d.ring[d.next] = id
	d.next = (d.next + 1) % len(d.ring)
	d.set[id] = struct{}{}
	return true
}

// SubscribeAvailability registers a subscription to live parking
// availability for the given lots (every lot when lotIDs is empty) and
// returns its channel and a function that ends it; ending ctx ends it too.
// Readings published while this instance was disconnected from Redis are
// not replayed (pub/sub), so while the broker cannot reach Redis the
// channel is closed (and a subscription made then is closed at once; see
// Available). A subscriber that lets Buffer readings pile up is dropped:
// its channel is closed while ctx is still live. When the broker stops, the
// channel is closed.
func (b *Broker) SubscribeAvailability(ctx context.Context, lotIDs []string) (<-chan Availability, func()) {
	s := &availSubscriber{ch: make(chan Availability, b.cfg.Buffer)}
	if len(lotIDs) > 0 {
		s.lots = make(map[string]struct{}, len(lotIDs))
		for _, id := range lotIDs {
			s.lots[id] = struct{}{}
		}
	}
	b.mu.Lock()
	if b.closed || b.down {
		b.mu.Unlock()
		close(s.ch)
		return s.ch, func() {}
	}
	cancel := func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.dropAvailLocked(s)
	}
	b.avail[s] = struct{}{}
	s.stopAfter = context.AfterFunc(ctx, cancel)
	b.mu.Unlock()
	return s.ch, cancel
}

func (b *Broker) dropAvailLocked(s *availSubscriber) {
	if _, ok := b.avail[s]; !ok {
		return
	}
	delete(b.avail, s)
	s.stopAfter()
	close(s.ch)
}

func (b *Broker) fanoutAvailability(a Availability) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.avail {
		if s.lots != nil {
			if _, ok := s.lots[a.LotID]; !ok {
				continue
			}
		}
		select {
		case s.ch <- a:
		default:
			b.dropAvailLocked(s)
			b.log.Warn("dropped a slow availability subscriber", "buffer", b.cfg.Buffer)
		}
	}
}

// runAvailability receives the availability channel until ctx ends; the
// first confirmation of the subscription makes the broker ready (see
// Ready). Readings missed while the subscription was down are not
// replayed, so a re-subscription needs no resync.
func (b *Broker) runAvailability(ctx context.Context) {
	pubsub.Subscribe(ctx, pubsub.Config{
		Client:      b.rdb,
		Channel:     b.availChan,
		HealthCheck: b.cfg.HealthCheck,
		RetryMax:    b.cfg.RetryMax,
		Name:        "availability subscription",
		Logger:      b.log,
		OnMessage: func(m *redis.Message) {
			var a Availability
			if err := json.Unmarshal([]byte(m.Payload), &a); err != nil || a.LotID == "" {
				b.log.Warn("skipped an unreadable availability message", "err", err)
				return
			}
			b.fanoutAvailability(a)
		},
		OnSubscribe: func(first bool) {
			if first {
				b.markReady()
			}
		},
	}).Run(ctx)
}

// PublishAvailability publishes one availability reading on the channel
// brokers with the same prefix listen to.
func PublishAvailability(ctx context.Context, rdb redis.UniversalClient, prefix string, a Availability) error {
	if prefix == "" {
		prefix = PrefixDefault
	}
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode availability: %w", err)
	}
	if err := rdb.Publish(ctx, AvailabilityChannel(prefix), data).Err(); err != nil {
		return fmt.Errorf("publish availability: %w", err)
	}
	return nil
}
