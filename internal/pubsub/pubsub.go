// Package pubsub keeps one Redis pub/sub subscription alive for as long as
// its owner runs, and paces the retries of the hub's reconnecting loops.
//
// A Subscription hands every message on its channel to a callback. After a
// receive error it waits (Backoff, Pause) while go-redis reconnects and
// re-subscribes by itself; a connection that stays silent is pinged, and
// one that does not answer the ping either (open but dead, as after a
// dropped network) is replaced. Messages published while the subscription
// was down are lost for good (Redis pub/sub does not queue), so the owner
// is told of every confirmation of the subscription (OnSubscribe) and
// resynchronises after a re-subscription. The policy watcher
// (internal/policy/casbinredis) and the event broker's availability channel
// (internal/events) share the loop, so a fix to it reaches both.
package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RetryMin is the first pause after a failure; pauses double up to the
// configured maximum while the failure lasts.
const RetryMin = 50 * time.Millisecond

// Backoff returns the pause after prev, the previous one (0 when healthy):
// RetryMin, doubling up to max.
func Backoff(prev, max time.Duration) time.Duration {
	if prev == 0 {
		return min(RetryMin, max)
	}
	return min(2*prev, max)
}

// Pause waits a jittered d (between half of d and d) or until ctx ends,
// reporting whether to go on. The jitter spreads the retries of instances
// that lost Redis at the same moment, so they do not reconnect in step.
func Pause(ctx context.Context, d time.Duration) bool {
	if d > 1 {
		d = d/2 + rand.N(d/2+1)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Config configures a Subscription.
type Config struct {
	// Client talks to Redis; the subscription takes a connection of its own
	// and never closes Client.
	Client redis.UniversalClient
	// Channel is the one channel subscribed to.
	Channel string
	// HealthCheck is how long the subscription may stay silent before it
	// is pinged; a ping unanswered for as long again means the connection
	// is dead without having been closed, and it is replaced. It must be
	// positive.
	HealthCheck time.Duration
	// RetryMax caps the pause between attempts to reach Redis again.
	RetryMax time.Duration
	// Name names the subscription in log messages ("availability
	// subscription").
	Name string
	// Logger receives connection trouble and recoveries.
	Logger *slog.Logger

	// OnMessage receives every message on Channel, on Run's goroutine.
	OnMessage func(*redis.Message)
	// OnSubscribe, when set, runs on Run's goroutine each time Redis
	// confirms the subscription: first is true for the very first
	// confirmation (unless Confirm consumed it), false for every
	// re-subscription after a reconnect or a replacement, after which
	// messages may have been missed.
	OnSubscribe func(first bool)
	// OnReceive, when set, runs after every successful receive (a message,
	// a confirmation or the answer to a ping), before the message is
	// handed on: Redis answers again.
	OnReceive func()
}

// Subscription is one subscription to a channel, kept alive by Run. Its
// methods are safe for concurrent use.
type Subscription struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	ps        *redis.PubSub
	closed    bool
	confirmed bool // the first confirmation was seen (Confirm or Run)
}

// Subscribe sends SUBSCRIBE for cfg.Channel under ctx and returns the
// subscription; Run receives on it. A failure to reach Redis shows up as a
// receive error, which Run retries (or Confirm returns).
func Subscribe(ctx context.Context, cfg Config) *Subscription {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Name == "" {
		cfg.Name = "subscription"
	}
	return &Subscription{cfg: cfg, log: log, ps: cfg.Client.Subscribe(ctx, cfg.Channel)}
}

// Confirm waits until Redis confirms the subscription, so that a message
// published after it returns is received. Call it before Run, if at all;
// the confirmation it consumes is not reported to OnSubscribe.
func (s *Subscription) Confirm(ctx context.Context) error {
	s.mu.Lock()
	ps := s.ps
	s.mu.Unlock()
	for {
		// Without a timeout of its own, Receive reads under ctx's deadline.
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		if m, ok := msg.(*redis.Subscription); ok && m.Kind == "subscribe" {
			s.mu.Lock()
			s.confirmed = true
			s.mu.Unlock()
			return nil
		}
	}
}

// Close ends the subscription: a receive in progress returns, and Run
// returns soon after. It is idempotent.
func (s *Subscription) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	_ = s.ps.Close()
}

// current returns the live PubSub, or nil once closed.
func (s *Subscription) current() *redis.PubSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return s.ps
}

// replace swaps the PubSub for a fresh subscription; false once closed.
func (s *Subscription) replace(ctx context.Context) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || ctx.Err() != nil {
		// A subscription made now would escape Close.
		return false
	}
	_ = s.ps.Close()
	// Subscribe dials and sends SUBSCRIBE; a failure shows up as an error
	// from the next receive, which retries.
	s.ps = s.cfg.Client.Subscribe(ctx, s.cfg.Channel)
	return true
}

// Run receives until ctx ends or Close is called, and then closes the
// subscription. go-redis reconnects and re-subscribes by itself after a
// connection error; Run pauses with backoff meanwhile. Call Run once.
func (s *Subscription) Run(ctx context.Context) {
	// Closing the subscription interrupts a receive in progress, so Run
	// returns as soon as ctx ends rather than after HealthCheck.
	stop := context.AfterFunc(ctx, s.Close)
	defer func() {
		stop()
		s.Close()
	}()
	var retry time.Duration // the last pause, 0 while healthy
	pingPending := false
	for {
		ps := s.current()
		if ps == nil {
			return
		}
		msg, err := ps.ReceiveTimeout(ctx, s.cfg.HealthCheck)
		if ctx.Err() != nil || s.current() == nil {
			return
		}
		if err != nil {
			if isTimeout(err) && retry == 0 {
				if pingPending {
					// Silent for two intervals despite a ping: the socket
					// is open but nobody answers.
					s.log.Warn(s.cfg.Name + " unresponsive; replacing it")
					if !s.replace(ctx) {
						return
					}
					pingPending = false
					continue
				}
				// Quiet for a while: ask, so that a dead connection shows
				// up.
				if err = ps.Ping(ctx); err == nil {
					pingPending = true
					continue
				}
			}
			if retry == 0 {
				s.log.Warn(s.cfg.Name+" lost; reconnecting", "err", err)
			}
			pingPending = false
			retry = Backoff(retry, s.cfg.RetryMax)
			if !Pause(ctx, retry) {
				return
			}
			continue
		}
		if retry != 0 {
			s.log.Info(s.cfg.Name + " restored")
			retry = 0
		}
		pingPending = false
		if s.cfg.OnReceive != nil {
			s.cfg.OnReceive()
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == s.cfg.Channel {
				s.mu.Lock()
				first := !s.confirmed
				s.confirmed = true
				s.mu.Unlock()
				if s.cfg.OnSubscribe != nil {
					s.cfg.OnSubscribe(first)
				}
			}
		case *redis.Message:
			if s.cfg.OnMessage != nil {
				s.cfg.OnMessage(m)
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
