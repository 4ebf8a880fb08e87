package bot

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
	"github.com/silenceper/wechat/v2/cache"
)

// The simulated account the plumbing tests use.
const (
	simAppID     = "wxsim0123456789ab"
	simAppSecret = "SIMSECRET0123456789abcdef0123456"
	simToken     = "simcallbacktoken"
	simAESKey    = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// plumbing is one simulated WeChat with the bot's WeChat pointed at it.
type plumbing struct {
	sim   *wechatsim.Platform
	srv   *httptest.Server
	wc    *WeChat
	cache cache.Cache
	logs  *syncBuffer // everything the WeChat and Sender logged
	hosts *hostRecorder
	stall *stallHandler
}

// stallHandler holds requests to one path until released (or the client
// gives up), after reading them: a WeChat that got the request and hangs.
type stallHandler struct {
	next    http.Handler
	path    atomic.Pointer[string]
	release chan struct{}
}

func (h *stallHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := h.path.Load(); p != nil && *p == r.URL.Path {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
		return
	}
	h.next.ServeHTTP(w, r)
}

// stallOn makes requests to path hang until the test ends.
func (p *plumbing) stallOn(t *testing.T, path string) {
	p.stall.path.Store(&path)
	t.Cleanup(func() { close(p.stall.release) })
}

type plumbingOption func(*WeChatConfig)

// withPostgresCache keeps the access token in the real kv table (storage's
// TokenCache) on a fresh database.
func withPostgresCache(t *testing.T) plumbingOption {
	s := storagetest.NewStore(t)
	return func(c *WeChatConfig) { c.Cache = s.TokenCache(time.Now) }
}

// newPlumbing starts a simulator and makes the process's WeChat talk to it.
// The SDK's HTTP client and URI modifier are process-wide: tests using it do
// not run in parallel.
func newPlumbing(t *testing.T, opts ...plumbingOption) *plumbing {
	t.Helper()
	sim := wechatsim.New(wechatsim.Options{AppID: simAppID, AppSecret: simAppSecret, Token: simToken, EncodingAESKey: simAESKey})
	stall := &stallHandler{next: sim, release: make(chan struct{})}
	srv := httptest.NewServer(stall)
	t.Cleanup(srv.Close)
	logs := &syncBuffer{}
	hosts := &hostRecorder{next: http.DefaultTransport}
	cfg := WeChatConfig{
		AppID: simAppID, AppSecret: simAppSecret, Token: simToken, EncodingAESKey: simAESKey,
		APIBaseURL: srv.URL, Cache: newTestCache(),
		HTTPClient: &http.Client{Transport: hosts, Timeout: 5 * time.Second},
		Logger:     slog.New(RedactingHandler(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
	for _, o := range opts {
		o(&cfg)
	}
	wc, err := NewWeChat(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &plumbing{sim: sim, srv: srv, wc: wc, cache: cfg.Cache, logs: logs, hosts: hosts, stall: stall}
}

// testCache is a small concurrency-safe cache.Cache (the SDK's cache.Memory
// is not) for tests that need no database.
type testCache struct {
	mu sync.Mutex
	m  map[string]testCacheEntry
}

type testCacheEntry struct {
	v   any
	exp time.Time
}

func newTestCache() *testCache { return &testCache{m: map[string]testCacheEntry{}} }

func (c *testCache) Get(key string) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || (!e.exp.IsZero() && time.Now().After(e.exp)) {
		return nil
	}
	return e.v
}

func (c *testCache) Set(key string, v any, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := testCacheEntry{v: v}
	if timeout > 0 {
		e.exp = time.Now().Add(timeout)
	}
	c.m[key] = e
	return nil
}

func (c *testCache) IsExist(key string) bool { return c.Get(key) != nil }

func (c *testCache) Delete(key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

// hostRecorder remembers the host of every request the SDK's client made.
type hostRecorder struct {
	next  http.RoundTripper
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Scheme+"://"+r.URL.Host)
	h.mu.Unlock()
	return h.next.RoundTrip(r)
}

func (h *hostRecorder) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hosts...)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
