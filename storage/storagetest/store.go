package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// Shanghai is the location tests keep their calendar in.
var Shanghai = mustLoad("Asia/Shanghai")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// Calendar is the working calendar tests use: Asia/Shanghai, deadlines in
// working days ending at 18:00, no overrides.
func Calendar(t testing.TB) *hotlinebot.WorkCalendar {
	t.Helper()
	cal, err := hotlinebot.NewWorkCalendar(Shanghai, "18:00", nil)
	if err != nil {
		t.Fatalf("storagetest: calendar: %v", err)
	}
	return cal
}

// NewStore opens a Store on a fresh, migrated database (NewDatabase) with the
// test Calendar and the default deadline policy unless opts sets them. It is
// closed when the test ends.
func NewStore(t testing.TB, opts ...storage.Options) *storage.Store {
	t.Helper()
	url := NewDatabase(t)
	var o storage.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Calendar == nil {
		o.Calendar = Calendar(t)
	}
	if o.Policy.Urgency == nil {
		o.Policy = hotlinebot.DefaultDeadlinePolicy()
	}
	ctx := context.Background()
	s, err := storage.Open(ctx, url, o)
	if err != nil {
		t.Fatalf("storagetest: open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("storagetest: migrate: %v", err)
	}
	return s
}

// At returns the moment y-m-d h:min in Asia/Shanghai.
func At(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, Shanghai)
}
