// Package storage keeps hotlinebot's state in PostgreSQL: one Store, one file
// per entity, SQL next to the call, and time always passed in.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	neturl "net/url"
	"sync"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Options configure a Store.
type Options struct {
	Calendar hotlinebot.Calendar
	// Policy is the deadline policy; a zero policy means
	// hotlinebot.DefaultDeadlinePolicy().
	Policy hotlinebot.DeadlinePolicy
	// OutboxAdded is called after a transaction that queued pushes commits,
	// so the dispatcher can send at once. May be nil.
	OutboxAdded func()
	// Logger receives the Store's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Store is hotlinebot's PostgreSQL state.
type Store struct {
	db   *sqlx.DB
	opts Options
	log  *slog.Logger

	rulesMu    sync.Mutex
	rulesCache *cachedRules

	// checker answers MigrationsCurrent without a lock; made once, since
	// /readyz asks often.
	checkerOnce sync.Once
	checker     *goose.Provider
	checkerErr  error
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID is the advisory lock key under which migrations run, so that
// replicas starting together apply them one at a time.
const migrationLockID = 0x686f746c696e65 // "hotline"

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	db, err := sqlx.Open("postgres", withConnectTimeout(url))
	if err != nil {
		return nil, fmt.Errorf("storage: open: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(5)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: connect: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Store{db: db, opts: opts, log: log}, nil
}

// withConnectTimeout bounds how long a new connection may take (lib/pq
// otherwise waits on a database that accepts and never answers), unless the
// URL sets connect_timeout itself.
func withConnectTimeout(dsn string) string {
	u, err := neturl.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn // a key=value DSN, or one lib/pq will refuse with its own error
	}
	q := u.Query()
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", "5")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("storage: ping: %w", err)
	}
	return nil
}

// DB gives other packages (tests, the outbox dispatcher) the connection pool.
func (s *Store) DB() *sqlx.DB { return s.db }

func (s *Store) provider(withLock bool) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithSlog(s.log)}
	if withLock {
		// Retry every second for up to 5 minutes: a replica waits while
		// another one migrates.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(goose.DialectPostgres, s.db.DB, fsys, opts...)
}

// Migrate applies the pending migrations under a PostgreSQL advisory lock;
// several replicas may call it at once.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.provider(true)
	if err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	for _, r := range results {
		s.log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// MigrationsCurrent reports whether every embedded migration is applied (for
// /readyz); false, nil when the database has none yet.
func (s *Store) MigrationsCurrent(ctx context.Context) (bool, error) {
	var exists bool
	if err := s.db.GetContext(ctx, &exists, `SELECT to_regclass('goose_db_version') IS NOT NULL`); err != nil {
		return false, fmt.Errorf("storage: migrations: %w", err)
	}
	if !exists {
		return false, nil
	}
	s.checkerOnce.Do(func() { s.checker, s.checkerErr = s.provider(false) })
	if s.checkerErr != nil {
		return false, fmt.Errorf("storage: migrations: %w", s.checkerErr)
	}
	pending, err := s.checker.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("storage: migrations: %w", err)
	}
	return !pending, nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storage: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	return nil
}

// notifyOutbox tells the dispatcher that committed rows wait.
func (s *Store) notifyOutbox(queued int) {
	if queued > 0 && s.opts.OutboxAdded != nil {
		s.opts.OutboxAdded()
	}
}

func (s *Store) env(now time.Time) hotlinebot.Env {
	return hotlinebot.Env{Now: now, Calendar: s.opts.Calendar, Policy: s.policy()}
}

func (s *Store) policy() hotlinebot.DeadlinePolicy {
	if s.opts.Policy.Urgency == nil {
		return hotlinebot.DefaultDeadlinePolicy()
	}
	return s.opts.Policy
}

// location is the calendar's location, UTC when no calendar is configured.
func (s *Store) location() *time.Location {
	if s.opts.Calendar != nil {
		if loc := s.opts.Calendar.Location(); loc != nil {
			return loc
		}
	}
	return time.UTC
}

func notFound(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// nullTime and friends map Go zero values to SQL NULL.
func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }
func nullInt(n int64) sql.NullInt64     { return sql.NullInt64{Int64: n, Valid: n != 0} }
func fromNullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time
}
