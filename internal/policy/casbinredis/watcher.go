// Package casbinredis tells every hub instance when the Casbin policy
// changes, over Redis pub/sub, so a grant approved on one instance is
// enforced by all of them within a second (docs/design.md, Access control).
//
// The Watcher implements persist.Watcher, persist.WatcherEx and
// persist.UpdatableWatcher. Messages carry no policy, only the fact of a
// change; receivers reload the whole policy from the database, which is the
// single source of truth. A reload is idempotent, so a duplicate or an extra
// notification costs time but never correctness, whereas a missed one leaves
// an instance stale: hence the watcher also notifies after every
// re-subscription, since messages published while it was disconnected are
// lost for good (Redis pub/sub does not queue).
//
// Because Watcher implements WatcherEx, Casbin's SetWatcher installs no
// callback; set one after SetWatcher:
//
//	_ = e.SetWatcher(w)
//	_ = w.SetUpdateCallback(func(string) { _ = e.LoadPolicy() })
//
// Use casbin.SyncedEnforcer (or lock around the reload): the callback runs on
// the watcher's goroutine, concurrently with the enforcer's other callers.
package casbinredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"github.com/redis/go-redis/v9"

	"github.com/fengcheng/datahub/internal/pubsub"
)

// Defaults for Config.
const (
	ChannelDefault     = "datahub:casbin:policy"
	TimeoutDefault     = 2 * time.Second
	HealthCheckDefault = 5 * time.Second
	RetryMaxDefault    = 2 * time.Second
)

// Ops name what changed, in Message.Op. OpResync is never published: it is
// what the callback receives after the watcher re-subscribed.
const (
	OpUpdate               = "update"
	OpAddPolicy            = "add_policy"
	OpAddPolicies          = "add_policies"
	OpRemovePolicy         = "remove_policy"
	OpRemovePolicies       = "remove_policies"
	OpRemoveFilteredPolicy = "remove_filtered_policy"
	OpUpdatePolicy         = "update_policy"
	OpUpdatePolicies       = "update_policies"
	OpSavePolicy           = "save_policy"
	OpResync               = "resync"
)

// logPayloadMax caps how much of an unreadable message is logged.
const logPayloadMax = 256

var (
	_ persist.Watcher          = (*Watcher)(nil)
	_ persist.WatcherEx        = (*Watcher)(nil)
	_ persist.UpdatableWatcher = (*Watcher)(nil)
)

// ErrClosed is returned by the Update methods after Close.
var ErrClosed = errors.New("casbinredis: watcher closed")

// Message is what the watcher publishes, as JSON, and what the update
// callback receives.
type Message struct {
	// Instance is the publisher's Config.InstanceID; a watcher ignores its
	// own messages.
	Instance string    `json:"instance"`
	Op       string    `json:"op"`
	Time     time.Time `json:"time"`
}

// Config configures a Watcher. Zero values take the defaults above.
type Config struct {
	// Client talks to Redis; the watcher takes one connection of its own
	// for the subscription and never closes Client.
	Client redis.UniversalClient
	// Channel is the pub/sub channel every instance shares. Tests pass a
	// prefixed name so that packages running at once do not collide.
	Channel string
	// InstanceID identifies this instance in messages; messages carrying
	// it are ignored. Default: random.
	InstanceID string
	// Timeout bounds a publish and the initial subscription.
	Timeout time.Duration
	// HealthCheck is how long the subscription may stay silent before it
	// is pinged; a ping unanswered for as long again means the connection
	// is dead without having been closed (a dropped network), and it is
	// replaced.
	HealthCheck time.Duration
	// RetryMax caps the pause between attempts to reach Redis again.
	RetryMax time.Duration
	// Logger receives connection trouble. Default slog.Default().
	Logger *slog.Logger
}

// Watcher publishes policy changes and calls back on other instances'
// changes. It is safe for concurrent use.
type Watcher struct {
	client  redis.UniversalClient
	channel string
	id      string
	timeout time.Duration
	log     *slog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup
	// pending holds the latest notification not yet handed to the
	// callback. A burst of changes while a reload runs collapses into one
	// more reload: each reload reads the whole policy, so the ones in
	// between would be wasted.
	pending chan string

	sub *pubsub.Subscription

	mu       sync.Mutex
	callback func(string)
	closed   bool
	// unsent is set when a change could not be announced (Redis
	// unreachable): the receive loop announces it again as soon as Redis
	// answers, so an instance whose own subscription never broke (a
	// partition between this instance and Redis only) still reloads.
	unsent bool
}

// New subscribes to the channel, waits until Redis confirms the
// subscription (so a change published after New returns is seen) and starts
// the background goroutines. Close releases them.
func New(ctx context.Context, cfg Config) (*Watcher, error) {
	if cfg.Client == nil {
		return nil, errors.New("casbinredis: nil client")
	}
	if cfg.Channel == "" {
		cfg.Channel = ChannelDefault
	}
	if cfg.InstanceID == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		cfg.InstanceID = hex.EncodeToString(b)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = TimeoutDefault
	}
	if cfg.HealthCheck == 0 {
		cfg.HealthCheck = HealthCheckDefault
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = RetryMaxDefault
	}
	if cfg.Timeout < 0 || cfg.HealthCheck < 0 || cfg.RetryMax < 0 {
		return nil, errors.New("casbinredis: negative duration in config")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &Watcher{
		client:  cfg.Client,
		channel: cfg.Channel,
		id:      cfg.InstanceID,
		timeout: cfg.Timeout,
		log:     cfg.Logger.With("component", "casbinredis", "channel", cfg.Channel, "instance", cfg.InstanceID),
		pending: make(chan string, 1),
	}

	sctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	// Every confirmation after the first (which Confirm consumes) marks a
	// re-established subscription, after which the callback runs once
	// whether or not anything was missed. republish runs on every answer
	// from Redis.
	w.sub = pubsub.Subscribe(sctx, pubsub.Config{
		Client:      w.client,
		Channel:     w.channel,
		HealthCheck: cfg.HealthCheck,
		RetryMax:    cfg.RetryMax,
		Name:        "subscription",
		Logger:      w.log,
		OnMessage:   func(m *redis.Message) { w.handle(m.Payload) },
		OnSubscribe: func(bool) { w.notify(w.message(OpResync)) },
		OnReceive:   w.republish,
	})
	if err := w.sub.Confirm(sctx); err != nil {
		w.sub.Close()
		return nil, fmt.Errorf("casbinredis: subscribe %s: %w", w.channel, err)
	}

	// The goroutines outlive New's ctx: they stop on Close.
	runCtx, runCancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = runCancel
	w.wg.Add(2)
	go func() {
		defer w.wg.Done()
		w.sub.Run(runCtx)
	}()
	go w.dispatch(runCtx)
	return w, nil
}

// InstanceID returns the id this watcher publishes under.
func (w *Watcher) InstanceID() string { return w.id }

// SetUpdateCallback sets the function called with the message (JSON, see
// Message) when another instance changed the policy or the subscription was
// re-established (Op OpResync). It runs on the watcher's goroutine, one call
// at a time; it must not call Close.
func (w *Watcher) SetUpdateCallback(fn func(string)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.callback = fn
	return nil
}

// Close stops the watcher and waits for its goroutines: once it returns the
// callback is not running and will not run again. Close is idempotent.
func (w *Watcher) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.cancel()
	// Closing the subscription unblocks a receive in progress.
	w.sub.Close()
	w.mu.Unlock()
	w.wg.Wait()
}

// Update tells the other instances that the policy changed.
func (w *Watcher) Update() error { return w.publish(OpUpdate) }

// UpdateForAddPolicy tells the other instances that a rule was added.
func (w *Watcher) UpdateForAddPolicy(sec, ptype string, params ...string) error {
	return w.publish(OpAddPolicy)
}

// UpdateForRemovePolicy tells the other instances that a rule was removed.
func (w *Watcher) UpdateForRemovePolicy(sec, ptype string, params ...string) error {
	return w.publish(OpRemovePolicy)
}

// UpdateForRemoveFilteredPolicy tells the other instances that rules were
// removed by a filter.
func (w *Watcher) UpdateForRemoveFilteredPolicy(sec, ptype string, fieldIndex int, fieldValues ...string) error {
	return w.publish(OpRemoveFilteredPolicy)
}

// UpdateForSavePolicy tells the other instances that the whole policy was
// replaced.
func (w *Watcher) UpdateForSavePolicy(model.Model) error { return w.publish(OpSavePolicy) }

// UpdateForAddPolicies tells the other instances that rules were added.
func (w *Watcher) UpdateForAddPolicies(sec, ptype string, rules ...[]string) error {
	return w.publish(OpAddPolicies)
}

// UpdateForRemovePolicies tells the other instances that rules were removed.
func (w *Watcher) UpdateForRemovePolicies(sec, ptype string, rules ...[]string) error {
	return w.publish(OpRemovePolicies)
}

// UpdateForUpdatePolicy tells the other instances that a rule was replaced.
func (w *Watcher) UpdateForUpdatePolicy(sec, ptype string, oldRule, newRule []string) error {
	return w.publish(OpUpdatePolicy)
}

// UpdateForUpdatePolicies tells the other instances that rules were
// replaced.
func (w *Watcher) UpdateForUpdatePolicies(sec, ptype string, oldRules, newRules [][]string) error {
	return w.publish(OpUpdatePolicies)
}

func (w *Watcher) message(op string) string {
	b, _ := json.Marshal(Message{Instance: w.id, Op: op, Time: time.Now().UTC()})
	return string(b)
}

func (w *Watcher) publish(op string) error {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	if err := w.client.Publish(ctx, w.channel, w.message(op)).Err(); err != nil {
		w.mu.Lock()
		w.unsent = true
		w.mu.Unlock()
		return fmt.Errorf("casbinredis: publish %s: %w", op, err)
	}
	return nil
}

// republish announces a change publish could not, once Redis answers again.
func (w *Watcher) republish() {
	w.mu.Lock()
	unsent := w.unsent
	w.unsent = false
	w.mu.Unlock()
	if !unsent {
		return
	}
	if err := w.publish(OpUpdate); err != nil {
		w.log.Warn("announcing an earlier policy change failed again", "err", err)
		return
	}
	w.log.Info("announced a policy change made while Redis was unreachable")
}

// handle passes another instance's message to the callback. A message that
// does not parse still triggers a reload: it is on our channel, most likely
// from a newer version of the hub, and a needless reload is harmless.
func (w *Watcher) handle(payload string) {
	var m Message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		w.log.Warn("unreadable policy message", "err", err, "payload", truncate(payload))
	} else if m.Instance == w.id {
		return
	}
	w.notify(payload)
}

func truncate(s string) string {
	if len(s) > logPayloadMax {
		return s[:logPayloadMax] + "…"
	}
	return s
}

// notify queues msg for the callback, replacing one still queued.
func (w *Watcher) notify(msg string) {
	for {
		select {
		case w.pending <- msg:
			return
		default:
		}
		// Only the subscription's goroutine sends, so after this drain the next send succeeds
		// unless dispatch took the old value first, which is as good.
		select {
		case <-w.pending:
		default:
		}
	}
}

// dispatch runs the callback for queued notifications until ctx ends.
func (w *Watcher) dispatch(ctx context.Context) {
	defer w.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-w.pending:
			w.mu.Lock()
			fn := w.callback
			w.mu.Unlock()
			if fn != nil && ctx.Err() == nil {
				fn(msg)
			}
		}
	}
}
