package events_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/events"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

func TestScopeAllows(t *testing.T) {
	t.Parallel()
	ev := events.Event{Dataset: "cases", Jurisdiction: "hailing.chengdong.dongjie.g03", OwnerDept: "urban-management",
		HandlingDept: "water", CitizenID: "c-1"}
	bare := events.Event{Dataset: "cases", Jurisdiction: "hailing.chengdongx.g01", OwnerDept: "urban-management"}
	tests := []struct {
		name  string
		scope access.RowScope
		ev    events.Event
		want  bool
	}{
		{"all", access.RowScope{All: true}, ev, true},
		{"zero scope", access.RowScope{}, ev, false},
		{"subtree root itself", access.RowScope{Jurisdictions: []string{"hailing.chengdong.dongjie.g03"}}, ev, true},
		{"street subtree", access.RowScope{Jurisdictions: []string{"hailing.chengdong"}}, ev, true},
		{"district subtree", access.RowScope{Jurisdictions: []string{"hailing"}}, ev, true},
		{"sibling street", access.RowScope{Jurisdictions: []string{"hailing.chengxi"}}, ev, false},
		{"label prefix is not a subtree", access.RowScope{Jurisdictions: []string{"hailing.chengdong"}}, bare, false},
		{"shorter label prefix", access.RowScope{Jurisdictions: []string{"hailing.chengdongx"}}, ev, false},
		{"deeper root does not admit its parent", access.RowScope{Jurisdictions: []string{"hailing.chengdong.dongjie.g03.x"}}, ev, false},
		{"one of several roots", access.RowScope{Jurisdictions: []string{"hailing.chengxi", "hailing.chengdong.dongjie"}}, ev, true},
		{"owner department", access.RowScope{Depts: []string{"urban-management"}}, ev, true},
		{"handling department", access.RowScope{Depts: []string{"planning", "water"}}, ev, true},
		{"other department", access.RowScope{Depts: []string{"housing"}}, ev, false},
		{"empty department never matches", access.RowScope{Depts: []string{""}}, bare, false},
		{"own report", access.RowScope{CitizenID: "c-1"}, ev, true},
		{"someone else's report", access.RowScope{CitizenID: "c-2"}, ev, false},
		{"no citizen on the event", access.RowScope{CitizenID: "c-1"}, bare, false},
		{"empty root never matches", access.RowScope{Jurisdictions: []string{""}}, ev, false},
		{"event without jurisdiction", access.RowScope{Jurisdictions: []string{"hailing"}}, events.Event{OwnerDept: "x"}, false},
		{"any condition suffices", access.RowScope{Jurisdictions: []string{"hailing.chengxi"}, Depts: []string{"housing"},
			CitizenID: "c-1"}, ev, true},
		{"no condition holds", access.RowScope{Jurisdictions: []string{"hailing.chengxi"}, Depts: []string{"housing"},
			CitizenID: "c-2"}, ev, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := events.ScopeAllows(tt.scope, tt.ev); got != tt.want {
				t.Errorf("ScopeAllows(%+v, %+v) = %v, want %v", tt.scope, tt.ev, got, tt.want)
			}
		})
	}
}

func TestDeliveryInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runRelay(t, b.pool, b.rdb, fastRelay(b, t))
	br := runBroker(t, b.rdb, fastBroker(b, t))
	ch, cancel := br.Subscribe(context.Background(), events.Filter{Scopes: map[string]access.RowScope{"cases": {All: true}}})
	defer cancel()

	record := uuid.NewString()
	var want []written
	for i := range 20 {
		want = append(want, insert(t, b.pool, change{recordID: record, op: "TRANSITION", version: i + 1,
			jurisdiction: "hailing.chengdong.g01", owner: "urban-management", handling: "water", cz: "c-1",
			payload: map[string]any{"status": fmt.Sprint("s", i)}}))
	}
	got := receive(t, ch, len(want))
	for i, e := range got {
		if e.ID != want[i].id || e.Seq != want[i].seq {
			t.Fatalf("event %d: id %s seq %d, want %s %d", i, e.ID, e.Seq, want[i].id, want[i].seq)
		}
		if e.Dataset != "cases" || e.RecordID != record || e.Op != "TRANSITION" || e.Version != i+1 ||
			e.Jurisdiction != "hailing.chengdong.g01" || e.OwnerDept != "urban-management" || e.HandlingDept != "water" ||
			e.CitizenID != "c-1" || e.Payload["status"] != fmt.Sprint("s", i) || e.CreatedAt.IsZero() || e.StreamID == "" {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	eventually(t, "rows marked published", func() bool { return unpublished(t, b.pool) == 0 })
}

func TestTwoInstancesBothReceive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runRelay(t, b.pool, b.rdb, fastRelay(b, t))
	all := events.Filter{Scopes: map[string]access.RowScope{"cases": {All: true}}}
	ch1, cancel1 := runBroker(t, b.rdb, fastBroker(b, t)).Subscribe(context.Background(), all)
	defer cancel1()
	ch2, cancel2 := runBroker(t, env.Redis(t), fastBroker(b, t)).Subscribe(context.Background(), all)
	defer cancel2()

	var want []uuid.UUID
	for range 5 {
		want = append(want, insert(t, b.pool, change{}).id)
	}
	for i, ch := range []<-chan events.Event{ch1, ch2} {
		got := receive(t, ch, len(want))
		for j, e := range got {
			if e.ID != want[j] {
				t.Errorf("instance %d event %d: %s, want %s", i+1, j, e.ID, want[j])
			}
		}
	}
}

// TestScopeFilter: a subscriber hears exactly of the records its scope for
// the dataset admits.
func TestScopeFilter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runRelay(t, b.pool, b.rdb, fastRelay(b, t))
	br := runBroker(t, b.rdb, fastBroker(b, t))
	ctx := context.Background()

	everything, cancelAll := br.Subscribe(ctx, events.Filter{Scopes: map[string]access.RowScope{
		"cases": {All: true}, "violations": {All: true}}})
	defer cancelAll()
	subs := map[string]events.Filter{
		"chengdong":   {Scopes: map[string]access.RowScope{"cases": {Jurisdictions: []string{"hailing.chengdong"}}}},
		"water":       {Scopes: map[string]access.RowScope{"cases": {Depts: []string{"water"}}}},
		"citizen":     {Scopes: map[string]access.RowScope{"cases": {CitizenID: "c-1"}}},
		"violations":  {Scopes: map[string]access.RowScope{"violations": {All: true}}},
		"zero scope":  {Scopes: map[string]access.RowScope{"cases": {}}},
		"no datasets": {},
		"one record":  {Scopes: map[string]access.RowScope{"cases": {All: true}}, RecordIDs: []string{"r-other"}},
		"match predicate": {Scopes: map[string]access.RowScope{"cases": {All: true}},
			Match: func(e events.Event) bool { return e.Op == "CREATED" }},
	}
	chans := map[string]<-chan events.Event{}
	cancels := map[string]func(){}
	for name, f := range subs {
		chans[name], cancels[name] = br.Subscribe(ctx, f)
	}

	changes := []change{
		{recordID: "r-x", op: "CREATED", jurisdiction: "hailing.chengdongx.g01", owner: "urban-management", cz: "c-2"},
		{recordID: "r-dong", jurisdiction: "hailing.chengdong.g01", owner: "urban-management"},
		{recordID: "r-water", jurisdiction: "hailing.chengxi.g02", owner: "urban-management", handling: "water"},
		{recordID: "r-mine", jurisdiction: "hailing.chengnan", owner: "urban-management", cz: "c-1"},
		{recordID: "r-other", jurisdiction: "hailing.chengxi", owner: "housing"},
		{dataset: "violations", recordID: "v-1", op: "CREATED", jurisdiction: "hailing.chengdong", owner: "water", cz: "c-1"},
	}
	for _, c := range changes {
		insert(t, b.pool, c)
	}
	receive(t, everything, len(changes))

	want := map[string][]string{
		"chengdong":       {"r-dong"},
		"water":           {"r-water"},
		"citizen":         {"r-mine"},
		"violations":      {"v-1"},
		"zero scope":      nil,
		"no datasets":     nil,
		"one record":      {"r-other"},
		"match predicate": {"r-x"},
	}
	// Once the catch-all subscriber has everything, the broker has handed
	// out the last event; ending each subscription then leaves exactly
	// what it was given.
	for name, ch := range chans {
		var got []string
		for _, e := range drain(ch, cancels[name]) {
			got = append(got, e.RecordID)
		}
		if !slices.Equal(got, want[name]) {
			t.Errorf("%s received %v, want %v", name, got, want[name])
		}
	}
}

// TestTwoRelays: relays on one outbox publish every row, none twice.
func TestTwoRelays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := fastRelay(b, t)
	cfg.BatchSize = 25
	r1 := runRelay(t, b.pool, b.rdb, cfg)
	r2 := runRelay(t, b.pool, env.Redis(t), cfg)

	const writers, each = 4, 75
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				insert(t, b.pool, change{})
				if i%10 == 0 {
					[]*events.Relay{r1, r2}[w%2].Kick()
				}
			}
		}()
	}
	wg.Wait()
	eventually(t, "every row published", func() bool { return unpublished(t, b.pool) == 0 })

	entries, err := b.rdb.XRange(context.Background(), events.StreamKey(b.prefix), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != writers*each {
		t.Errorf("stream holds %d entries, want %d", len(entries), writers*each)
	}
	seen := map[string]bool{}
	for _, m := range entries {
		id, _ := m.Values["id"].(string)
		if seen[id] {
			t.Errorf("event %s published twice", id)
		}
		seen[id] = true
	}
}

// TestSlowSubscriberDropped: a subscriber that does not read is dropped
// with an error event once its buffer is full; the others go on.
func TestSlowSubscriberDropped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runRelay(t, b.pool, b.rdb, fastRelay(b, t))
	cfg := fastBroker(b, t)
	cfg.Buffer = 4
	br := runBroker(t, b.rdb, cfg)
	all := events.Filter{Scopes: map[string]access.RowScope{"cases": {All: true}}}
	fast, cancelFast := br.Subscribe(context.Background(), all)
	defer cancelFast()
	slow, cancelSlow := br.Subscribe(context.Background(), all)

	for range 6 {
		insert(t, b.pool, change{})
		receive(t, fast, 1)
	}
	got := drain(slow, cancelSlow)
	if len(got) != 5 || !errors.Is(got[4].Err, events.ErrSlowSubscriber) {
		t.Fatalf("slow subscriber got %d events, last %+v; want 4 events then ErrSlowSubscriber", len(got), got[len(got)-1])
	}
	for _, e := range got[:4] {
		if e.Err != nil {
			t.Errorf("unexpected error event %v", e.Err)
		}
	}
}

// TestSubscriptionEnds: a subscription ends with its context; all end with
// ErrClosed when the broker stops, and later ones end at once.
func TestSubscriptionEnds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := events.NewBroker(b.rdb, fastBroker(b, t))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = br.Run(ctx)
	}()
	<-br.Ready()

	all := events.Filter{Scopes: map[string]access.RowScope{"cases": {All: true}}}
	subCtx, subCancel := context.WithCancel(context.Background())
	ch, cancel := br.Subscribe(subCtx, all)
	defer cancel()
	subCancel()
	if _, ok := <-ch; ok {
		t.Error("subscription outlived its context")
	}

	live, cancelLive := br.Subscribe(context.Background(), all)
	defer cancelLive()
	avail, cancelAvail := br.SubscribeAvailability(context.Background(), nil)
	defer cancelAvail()
	stop()
	<-done
	if e := <-live; !errors.Is(e.Err, events.ErrClosed) {
		t.Errorf("on stop: %+v, want ErrClosed", e)
	}
	if _, ok := <-live; ok {
		t.Error("channel open after ErrClosed")
	}
	if _, ok := <-avail; ok {
		t.Error("availability channel open after stop")
	}
	late, _ := br.Subscribe(context.Background(), all)
	if e := <-late; !errors.Is(e.Err, events.ErrClosed) {
		t.Errorf("after stop: %+v, want ErrClosed", e)
	}
}

// TestBrokerReadsReplacedStream: when the stream is replaced by one whose
// ids lie below the last one read (here: deleted and refilled with an
// explicit id; in life a failover to a host with a slower clock), the
// broker notices and reads the new stream from its start.
func TestBrokerReadsReplacedStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runRelay(t, b.pool, b.rdb, fastRelay(b, t))
	br := runBroker(t, b.rdb, fastBroker(b, t))
	ch, cancel := br.Subscribe(context.Background(), events.Filter{Scopes: map[string]access.RowScope{"cases": {All: true}}})
	defer cancel()
	first := insert(t, b.pool, change{})
	if e := receive(t, ch, 1)[0]; e.ID != first.id {
		t.Fatalf("got %s, want %s", e.ID, first.id)
	}

	ctx := context.Background()
	stream := events.StreamKey(b.prefix)
	if err := b.rdb.Del(ctx, stream).Err(); err != nil {
		t.Fatal(err)
	}
	id := uuid.Must(uuid.NewV7())
	data := fmt.Sprintf(`{"id":%q,"seq":99,"dataset":"cases","recordId":"r-1","op":"UPDATED","version":2,`+
		`"jurisdiction":"hailing","payload":{"status":"closed"},"createdAt":"2026-01-02T03:04:05Z"}`, id)
	if err := b.rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: "1-1", Values: []any{"id", id.String(), "e", data}}).Err(); err != nil {
		t.Fatal(err)
	}
	e := receive(t, ch, 1)[0]
	if e.ID != id || e.Seq != 99 || e.Payload["status"] != "closed" || e.StreamID != "1-1" {
		t.Fatalf("after the stream was replaced: %+v", e)
	}
}

func TestAvailability(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := runBroker(t, b.rdb, fastBroker(b, t))
	ctx := context.Background()
	lotA, cancelA := br.SubscribeAvailability(ctx, []string{"lot-a"})
	any, cancelAny := br.SubscribeAvailability(ctx, nil)
	defer cancelAny()

	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for _, a := range []events.Availability{{LotID: "lot-b", Free: 3, At: at}, {LotID: "lot-a", Free: 7, At: at}} {
		if err := events.PublishAvailability(ctx, b.rdb, b.prefix, a); err != nil {
			t.Fatal(err)
		}
	}
	// Not JSON: skipped without disturbing the subscription.
	if err := b.rdb.Publish(ctx, events.AvailabilityChannel(b.prefix), "garbage").Err(); err != nil {
		t.Fatal(err)
	}
	var got []events.Availability
	timeout := time.After(wait)
	for len(got) < 2 {
		select {
		case a := <-any:
			got = append(got, a)
		case <-timeout:
			t.Fatalf("received %v", got)
		}
	}
	if got[0].LotID != "lot-b" || got[1] != (events.Availability{LotID: "lot-a", Free: 7, At: at}) {
		t.Errorf("all lots: %+v", got)
	}
	cancelA()
	var onlyA []events.Availability
	for a := range lotA {
		onlyA = append(onlyA, a)
	}
	if len(onlyA) != 1 || onlyA[0].LotID != "lot-a" || onlyA[0].Free != 7 {
		t.Errorf("lot-a only: %+v", onlyA)
	}
}

// TestNotifyWakesRelay: with polling practically off, a NOTIFY committed
// with the outbox row wakes the relay.
func TestNotifyWakesRelay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := fastRelay(b, t)
	cfg.NoListen = false
	cfg.ListenChannel = "outbox_" + uuid.NewString()[:8]
	cfg.PollInterval = time.Hour
	cfg.CheckInterval = time.Hour
	runRelay(t, b.pool, b.rdb, cfg)
	br := runBroker(t, b.rdb, fastBroker(b, t))
	ch, cancel := br.Subscribe(context.Background(), events.Filter{Scopes: map[string]access.RowScope{"cases": {All: true}}})
	defer cancel()

	for range 3 {
		ctx := context.Background()
		tx, err := b.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		id := uuid.Must(uuid.NewV7())
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (event_id, dataset, record_id, op) VALUES ($1, 'cases', 'r', 'UPDATED')`, id); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SELECT pg_notify($1, '')", cfg.ListenChannel); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if e := receive(t, ch, 1)[0]; e.ID != id {
			t.Fatalf("got %s, want %s", e.ID, id)
		}
	}
}

// TestKickWakesRelay: with polling practically off, Kick wakes the relay.
func TestKickWakesRelay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := fastRelay(b, t)
	cfg.PollInterval = time.Hour
	cfg.CheckInterval = time.Hour
	r := runRelay(t, b.pool, b.rdb, cfg)
	br := runBroker(t, b.rdb, fastBroker(b, t))
	ch, cancel := br.Subscribe(context.Background(), events.Filter{Scopes: map[string]access.RowScope{"cases": {All: true}}})
	defer cancel()
	for range 3 {
		w := insert(t, b.pool, change{})
		r.Kick()
		if e := receive(t, ch, 1)[0]; e.ID != w.id {
			t.Fatalf("got %s, want %s", e.ID, w.id)
		}
	}
}

// TestResumeSince: a subscriber that lost its connection subscribes again
// with the instant it stopped at and gets every event since, then the live
// ones that arrived during the replay, each once and in stream order.
func TestResumeSince(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runRelay(t, b.pool, b.rdb, fastRelay(b, t))
	br := runBroker(t, b.rdb, fastBroker(b, t))
	all := events.Filter{Scopes: map[string]access.RowScope{"cases": {All: true}}}
	first, cancel := br.Subscribe(context.Background(), all)
	var want []written
	for i := range 10 {
		want = append(want, insert(t, b.pool, change{version: i + 1, jurisdiction: "hailing.chengdong.g01"}))
	}
	got := receive(t, first, 10)
	cancel()
	// The connection drops after the fourth event; 30 more are published
	// while the subscriber is away.
	since := got[3].CreatedAt
	for i := range 30 {
		want = append(want, insert(t, b.pool, change{version: i + 11, jurisdiction: "hailing.chengdong.g01"}))
	}
	eventually(t, "published", func() bool { return unpublished(t, b.pool) == 0 })
	if err := br.Replayable(context.Background(), since); err != nil {
		t.Fatalf("replayable: %v", err)
	}
	all.Since = since
	resumed, cancel := br.Subscribe(context.Background(), all)
	defer cancel()
	// Live events keep coming while the replay runs.
	for i := range 20 {
		want = append(want, insert(t, b.pool, change{version: i + 41, jurisdiction: "hailing.chengdong.g01"}))
	}
	// Every event published (stream id, in ms) at or after since: the
	// fourth and all later ones, and earlier ones published after since
	// (repeats the subscriber drops by id and version).
	start := 0
	for start < len(got) && streamMillis(t, got[start].StreamID) < since.UnixMilli() {
		start++
	}
	if start > 3 {
		t.Fatalf("the fourth event (stream %s) was published before its own creation %v", got[3].StreamID, since)
	}
	rest := receive(t, resumed, len(want)-start)
	seen := map[uuid.UUID]bool{}
	for i, e := range rest {
		if seen[e.ID] {
			t.Fatalf("event %d delivered twice", i)
		}
		seen[e.ID] = true
		if e.ID != want[start+i].id {
			t.Fatalf("resumed event %d is %s (seq %d), want %s (seq %d)", i, e.ID, e.Seq, want[start+i].id, want[start+i].seq)
		}
	}
	select {
	case e := <-resumed:
		t.Fatalf("an extra event: %+v", e)
	case <-time.After(300 * time.Millisecond):
	}
}

func streamMillis(t *testing.T, id string) int64 {
	t.Helper()
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		t.Fatalf("stream id %q: %v", id, err)
	}
	return n
}

// TestResumeRefusedAfterTrim: once the stream was trimmed past the instant
// a subscriber asks to resume from, Replayable says so; after the trimmed
// entries it is fine.
func TestResumeRefusedAfterTrim(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runRelay(t, b.pool, b.rdb, fastRelay(b, t))
	br := runBroker(t, b.rdb, fastBroker(b, t))
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	if err := br.Replayable(ctx, before); err != nil {
		t.Fatalf("nothing published yet: %v", err)
	}
	for i := range 5 {
		insert(t, b.pool, change{version: i + 1})
	}
	eventually(t, "published", func() bool { return unpublished(t, b.pool) == 0 })
	if err := br.Replayable(ctx, before); err != nil {
		t.Fatalf("nothing trimmed: %v", err)
	}
	if err := b.rdb.XTrimMaxLen(ctx, events.StreamKey(fastBroker(b, t).Prefix), 2).Err(); err != nil {
		t.Fatal(err)
	}
	if err := br.Replayable(ctx, before); !errors.Is(err, events.ErrReplayGone) {
		t.Fatalf("after a trim: %v, want ErrReplayGone", err)
	}
	if err := br.Replayable(ctx, time.Now().Add(time.Second)); err != nil {
		t.Fatalf("since after the trimmed entries: %v", err)
	}
}
