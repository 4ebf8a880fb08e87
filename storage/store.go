// Package storage keeps hotlinebot's state in PostgreSQL: one Store, one file
// per entity, SQL next to the call, and time always passed in.
package storage

import (
	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver
)

// Options configure a Store.
type Options struct {
	Calendar hotlinebot.Calendar
	Policy   hotlinebot.DeadlinePolicy
	// OutboxAdded is called after a transaction that queued pushes commits,
	// so the dispatcher can send at once. May be nil.
	OutboxAdded func()
}

// Store is hotlinebot's PostgreSQL state.
type Store struct {
	db   *sqlx.DB
	opts Options
}
