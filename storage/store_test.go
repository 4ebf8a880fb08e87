package storage_test

import (
	"context"
	"sync"
	"testing"

	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

func TestMigrateConcurrentlyAndCurrent(t *testing.T) {
	url := storagetest.NewDatabase(t)
	ctx := context.Background()
	open := func() *storage.Store {
		s, err := storage.Open(ctx, url, storage.Options{Calendar: storagetest.Calendar(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	if cur, err := a.MigrationsCurrent(ctx); err != nil || cur {
		t.Fatalf("fresh database: MigrationsCurrent = %v, %v; want false, nil", cur, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*storage.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: Migrate: %v", i, err)
		}
	}
	for _, s := range []*storage.Store{a, b} {
		if cur, err := s.MigrationsCurrent(ctx); err != nil || !cur {
			t.Fatalf("after Migrate: MigrationsCurrent = %v, %v; want true, nil", cur, err)
		}
	}
	// Running again is a no-op.
	if err := a.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := a.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := a.DB().GetContext(ctx, &n, `SELECT count(*) FROM goose_db_version WHERE version_id = 1 AND is_applied`); err != nil || n != 1 {
		t.Fatalf("migration 1 applied %d times (%v), want once", n, err)
	}
}
