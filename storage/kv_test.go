package storage_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
	"github.com/silenceper/wechat/v2/cache"
)

// The SDK takes it as its cache.
var _ cache.Cache = (*storage.TokenCache)(nil)

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const tokenKey = "gowechat_officialaccount__stable_access_token_wxappid"

func TestTokenCacheStoresStringsUntilTheyExpire(t *testing.T) {
	s := storagetest.NewStore(t)
	clock := &testClock{t: t0}
	c := s.TokenCache(clock.Now)

	if v := c.Get(tokenKey); v != nil {
		t.Fatalf("Get on an empty cache = %#v", v)
	}
	if err := c.Set(tokenKey, "TOKEN-1", 7200*time.Second); err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Get(tokenKey).(string); !ok || v != "TOKEN-1" {
		t.Fatalf("Get = %#v, want the string TOKEN-1", c.Get(tokenKey))
	}
	if err := c.Set("jsapi", []byte("bytes"), 0); err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Get("jsapi").(string); !ok || v != "bytes" {
		t.Fatalf("Get of []byte = %#v, want a string", c.Get("jsapi"))
	}
	if err := c.Set("bad", 42, time.Minute); err == nil {
		t.Error("Set of an int: no error")
	}

	clock.Add(7199 * time.Second)
	if !c.IsExist(tokenKey) {
		t.Fatal("expired a second early")
	}
	clock.Add(time.Second)
	if c.IsExist(tokenKey) || c.Get(tokenKey) != nil {
		t.Fatal("still there after its timeout by the injected clock")
	}
	if !c.IsExist("jsapi") {
		t.Fatal("a value without timeout expired")
	}
}

func TestTokenCacheIsSharedAcrossReplicas(t *testing.T) {
	s := storagetest.NewStore(t)
	clock := &testClock{t: t0}
	a, b := s.TokenCache(clock.Now), s.TokenCache(clock.Now)
	if err := a.Set(tokenKey, "TOKEN-A", time.Hour); err != nil {
		t.Fatal(err)
	}
	if v := b.Get(tokenKey); v != "TOKEN-A" {
		t.Fatalf("the other replica reads %#v", v)
	}
	// A 40001 on replica a: it deletes the token and fetches another; b sees
	// the new one once its memo is stale.
	if err := a.Delete(tokenKey); err != nil {
		t.Fatal(err)
	}
	if a.IsExist(tokenKey) {
		t.Fatal("deleted, still there")
	}
	if err := a.Set(tokenKey, "TOKEN-B", time.Hour); err != nil {
		t.Fatal(err)
	}
	clock.Add(b.Memo)
	if v := b.Get(tokenKey); v != "TOKEN-B" {
		t.Fatalf("the other replica reads %#v after the refresh", v)
	}
}

func TestTokenCacheConcurrentUse(t *testing.T) {
	s := storagetest.NewStore(t)
	clock := &testClock{t: t0}
	c := s.TokenCache(clock.Now)
	c.Memo = 0 // every Get reads the database
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				switch i % 4 {
				case 0:
					if err := c.Set(tokenKey, fmt.Sprintf("T%d-%d", g, i), time.Hour); err != nil {
						t.Error(err)
					}
				case 3:
					if g == 0 {
						_ = c.Delete(tokenKey)
					}
				default:
					if v := c.Get(tokenKey); v != nil {
						if _, ok := v.(string); !ok {
							t.Errorf("Get = %#v, not a string", v)
						}
					}
				}
				clock.Add(time.Millisecond)
			}
		}()
	}
	wg.Wait()
}

func TestTokenCacheSurvivesADatabaseFailure(t *testing.T) {
	s := storagetest.NewStore(t)
	clock := &testClock{t: t0}
	c := s.TokenCache(clock.Now)
	if err := c.Set(tokenKey, "TOKEN", time.Hour); err != nil {
		t.Fatal(err)
	}
	clock.Add(c.Memo)
	s.Close() // the database is gone
	if v := c.Get(tokenKey); v != "TOKEN" {
		t.Fatalf("Get during an outage = %#v, want the still valid token read before", v)
	}
	if v := c.Get("other"); v != nil {
		t.Fatalf("Get of an unknown key during an outage = %#v, want nil", v)
	}
	// A token fetched during the outage is still used by this process.
	if err := c.Set("fresh", "NEW", time.Hour); err != nil {
		t.Fatalf("Set during an outage: %v", err)
	}
	if v := c.Get("fresh"); v != "NEW" {
		t.Fatalf("Get after Set during an outage = %#v", v)
	}
	clock.Add(time.Hour)
	if v := c.Get(tokenKey); v != nil {
		t.Fatalf("an expired token served during an outage: %#v", v)
	}
}
