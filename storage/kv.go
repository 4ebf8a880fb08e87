package storage

// The key/value table: the WeChat SDK's access-token cache (shared by every
// replica), the bind throttle and the outbox pause.

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// TokenCache is the WeChat SDK's cache.Cache (silenceper/wechat/v2/cache:
// Get, Set, IsExist, Delete) over the kv table, so every replica shares one
// access token. Expiry follows the injected clock, never the database's.
// Values are stored and returned as strings (the SDK asserts val.(string)).
// The interface has no error results: a database failure reads as a miss
// (the SDK then fetches a token, harmless with stable tokens) and is logged
// with the key only, never the value. A short in-process memo in front
// spares the database a query per WeChat call and carries over a database
// hiccup. Safe for concurrent use.
type TokenCache struct {
	s     *Store
	clock func() time.Time
	log   *slog.Logger
	// Memo is how long a value read from the database is used without
	// reading it again; another replica's Delete is seen at most this late.
	Memo    time.Duration
	Timeout time.Duration // of each database call

	mu   sync.Mutex
	memo map[string]memoEntry
}

type memoEntry struct {
	value   string
	expires time.Time // zero: never
	fresh   time.Time // read the database again from then on
}

func (e memoEntry) live(now time.Time) bool { return e.expires.IsZero() || now.Before(e.expires) }

// TokenCache returns the kv-backed cache for the WeChat SDK, on clock.
func (s *Store) TokenCache(clock func() time.Time) *TokenCache {
	return &TokenCache{s: s, clock: clock, log: s.log, Memo: 30 * time.Second, Timeout: 3 * time.Second,
		memo: make(map[string]memoEntry)}
}

// Get returns the value stored at key as a string, or nil when there is none
// or it has expired.
func (c *TokenCache) Get(key string) interface{} {
	now := c.clock()
	c.mu.Lock()
	e, memoized := c.memo[key]
	c.mu.Unlock()
	if memoized && e.live(now) && now.Before(e.fresh) {
		return e.value
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	var rows []struct {
		Value     string     `db:"value"`
		ExpiresAt *time.Time `db:"expires_at"`
	}
	err := c.s.db.SelectContext(ctx, &rows,
		`SELECT value, expires_at FROM kv WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)`, key, now)
	if err != nil {
		c.log.Warn("token cache: read failed", "key", key, "err", err)
		if memoized && e.live(now) {
			return e.value // what we read last is still valid
		}
		return nil
	}
	if len(rows) == 0 {
		c.forget(key)
		return nil
	}
	e = memoEntry{value: rows[0].Value, fresh: now.Add(c.Memo)}
	if rows[0].ExpiresAt != nil {
		e.expires = *rows[0].ExpiresAt
	}
	c.mu.Lock()
	c.memo[key] = e
	c.mu.Unlock()
	return e.value
}

// Set stores val (a string or []byte) at key for timeout (0: no expiry). When
// the database cannot be written, the value is still kept in-process until it
// expires and the failure is logged: the token is valid, so the call that
// fetched it goes on.
func (c *TokenCache) Set(key string, val interface{}, timeout time.Duration) error {
	var v string
	switch x := val.(type) {
	case string:
		v = x
	case []byte:
		v = string(x)
	case fmt.Stringer:
		v = x.String()
	default:
		return fmt.Errorf("storage: token cache: %s: unsupported value type %T", key, val)
	}
	now := c.clock()
	e := memoEntry{value: v, fresh: now.Add(c.Memo)}
	var expires *time.Time
	if timeout > 0 {
		t := now.Add(timeout)
		e.expires, expires = t, &t
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	_, err := c.s.db.ExecContext(ctx,
		`INSERT INTO kv (key, value, expires_at) VALUES ($1, $2, $3)
		 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
		key, v, expires)
	if err != nil {
		c.log.Warn("token cache: write failed; keeping the value in this process", "key", key, "err", err)
		e.fresh = e.expires
		if e.fresh.IsZero() {
			e.fresh = now.Add(time.Hour)
		}
	}
	c.mu.Lock()
	c.memo[key] = e
	c.mu.Unlock()
	return nil
}

// IsExist reports whether key holds an unexpired value.
func (c *TokenCache) IsExist(key string) bool { return c.Get(key) != nil }

// Delete removes key (the bot does so on 40001/42001 before fetching a new token).
func (c *TokenCache) Delete(key string) error {
	c.forget(key)
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	if _, err := c.s.db.ExecContext(ctx, `DELETE FROM kv WHERE key = $1`, key); err != nil {
		c.log.Warn("token cache: delete failed", "key", key, "err", err)
		return fmt.Errorf("storage: token cache: delete %s: %w", key, err)
	}
	return nil
}

func (c *TokenCache) forget(key string) {
	c.mu.Lock()
	delete(c.memo, key)
	c.mu.Unlock()
}

// PurgeKV deletes the kv rows expired at now (the scheduler may call it daily).
func (s *Store) PurgeKV(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM kv WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("storage: purge kv: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
