package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot/storage/storagetest"
	"github.com/jmoiron/sqlx"
)

// A WeChat retry comes within seconds: a week later the dedupe row has done
// its job and housekeeping removes it, while yesterday's stays.
func TestHousekeepingPrunesOldInboundRows(t *testing.T) {
	ctx := context.Background()
	s := storagetest.NewStore(t)
	sc := newScheduler(t, s, standardOptions(storagetest.Calendar(t)))
	now := storagetest.At(2026, 12, 1, 3, 0)

	runs := 0
	handle := func(tx *sqlx.Tx) (string, error) { runs++; return "好的", nil }
	for _, at := range []time.Time{now.Add(-8 * 24 * time.Hour), now.Add(-24 * time.Hour)} {
		if _, dup, err := s.Inbound(ctx, "msg:"+at.Format(time.DateOnly), "openid-1", at, handle); err != nil || dup {
			t.Fatalf("Inbound at %s: dup=%v err=%v", at, dup, err)
		}
	}
	if err := sc.Housekeeping(ctx, now); err != nil {
		t.Fatal(err)
	}
	old := now.Add(-8 * 24 * time.Hour)
	if _, dup, err := s.Inbound(ctx, "msg:"+old.Format(time.DateOnly), "openid-1", now, handle); err != nil || dup {
		t.Errorf("the week-old dedupe row should be gone: dup=%v err=%v", dup, err)
	}
	recent := now.Add(-24 * time.Hour)
	if _, dup, err := s.Inbound(ctx, "msg:"+recent.Format(time.DateOnly), "openid-1", now, handle); err != nil || !dup {
		t.Errorf("yesterday's dedupe row should stay: dup=%v err=%v", dup, err)
	}
	if runs != 3 {
		t.Errorf("handler ran %d times, want 3", runs)
	}
}
