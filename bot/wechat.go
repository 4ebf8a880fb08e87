package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/officialaccount"
	"github.com/silenceper/wechat/v2/officialaccount/basic"
	"github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/officialaccount/material"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/officialaccount/server"
	"github.com/silenceper/wechat/v2/officialaccount/user"
	"github.com/silenceper/wechat/v2/util"
)

// DefaultAPIBaseURL is where WeChat's API lives; the SDK has it hard-coded.
const DefaultAPIBaseURL = "https://api.weixin.qq.com"

// WeChatConfig configures the process's one official account.
type WeChatConfig struct {
	AppID          string
	AppSecret      string
	Token          string // the callback Token of the 公众号 console
	EncodingAESKey string // 43 characters, or "" for plain mode only
	// APIBaseURL replaces https://api.weixin.qq.com in every SDK call (a
	// gateway, a proxy, the simulator); "" keeps WeChat's.
	APIBaseURL string
	// Cache keeps the access token; in production the PostgreSQL-backed
	// cache from storage, so every replica shares one stable token.
	Cache cache.Cache
	// HTTPClient talks to the API; nil is a client with a 15 s overall
	// timeout (5 s to connect). Its Timeout is honoured per call.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// WeChat is the official account: one per process, made once at start by
// NewWeChat and shared. It wraps the SDK's OfficialAccount so that nothing
// else touches the SDK's traps: the lazily assigned sub-clients (made once
// here), the process-wide HTTP client and URI modifier (installed here), the
// untyped errors of its senders (bypassed: see Sender), and the secrets in
// its error strings (redacted).
type WeChat struct {
	cfg      WeChatConfig
	log      *slog.Logger
	oa       *officialaccount.OfficialAccount
	basic    *basic.Basic
	template *message.Template
	manager  *message.Manager
	user     *user.User
	material *material.Material
}

// The SDK's process-wide settings. util.DefaultHTTPClient and
// util.SetURIModifier are unsynchronised package variables of the SDK, so they
// are written exactly once per process (the first NewWeChat); what they do
// is read from these atomics, which a later NewWeChat (tests, the sandbox)
// may replace safely.
var (
	sdkOnce   sync.Once
	apiBase   atomic.Pointer[string]
	apiClient atomic.Pointer[http.Client]
)

// NewWeChat sets up the official account. It installs, process-wide and
// once, the SDK's HTTP client (util.DefaultHTTPClient: a new client, never
// http.DefaultClient changed) and its URI modifier (util.SetURIModifier:
// https://api.weixin.qq.com → APIBaseURL for every call). A second call
// replaces the base URL and client for the whole process: cmd calls it once;
// tests make one at a time.
func NewWeChat(cfg WeChatConfig) (*WeChat, error) {
	switch {
	case cfg.AppID == "":
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "wechat.app_id is required")
	case cfg.AppSecret == "":
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "wechat.app_secret is required")
	case cfg.Token == "":
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "wechat.token is required")
	case cfg.EncodingAESKey != "" && len(cfg.EncodingAESKey) != 43:
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "wechat.encoding_aes_key must be 43 characters (it has %d)", len(cfg.EncodingAESKey))
	case cfg.Cache == nil:
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "wechat: an access-token cache is required")
	}
	base := strings.TrimRight(cfg.APIBaseURL, "/")
	if base == "" {
		base = DefaultAPIBaseURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "wechat.api_base_url %q is not an http(s) URL", cfg.APIBaseURL)
	}
	cfg.APIBaseURL = base
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	apiBase.Store(&base)
	apiClient.Store(cfg.HTTPClient)
	sdkOnce.Do(func() {
		util.DefaultHTTPClient = &http.Client{Transport: sdkTransport{}}
		util.SetURIModifier(rewriteURI)
	})

	oa := officialaccount.NewOfficialAccount(&config.Config{
		AppID: cfg.AppID, AppSecret: cfg.AppSecret, Token: cfg.Token, EncodingAESKey: cfg.EncodingAESKey,
		Cache: cfg.Cache, UseStableAK: true,
	})
	// The getters assign their field lazily without a lock: call each once,
	// here, and keep the pointers.
	wc := &WeChat{
		cfg: cfg, log: cfg.Logger, oa: oa,
		basic: oa.GetBasic(), template: oa.GetTemplate(), manager: oa.GetCustomerMessageManager(),
		user: oa.GetUser(), material: oa.GetMaterial(),
	}
	return wc, nil
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = 10 * time.Second
	t.MaxIdleConnsPerHost = 8
	return &http.Client{Transport: t, Timeout: 15 * time.Second}
}

// rewriteURI is the SDK's URI modifier.
func rewriteURI(uri string) string {
	if b := apiBase.Load(); b != nil && *b != DefaultAPIBaseURL {
		if rest, ok := strings.CutPrefix(uri, DefaultAPIBaseURL); ok {
			return *b + rest
		}
	}
	return uri
}

// Server returns the SDK's callback server for one request (a fresh one each
// time, as the SDK intends). The caller must set its message handler.
func (wc *WeChat) Server(r *http.Request, w http.ResponseWriter) *server.Server {
	return wc.oa.GetServer(r, w)
}

// AppID is the account's appid.
func (wc *WeChat) AppID() string { return wc.cfg.AppID }

// Token is the callback Token.
func (wc *WeChat) Token() string { return wc.cfg.Token }

// EncodingAESKey is the safe-mode key ("" when only plain mode is set up).
func (wc *WeChat) EncodingAESKey() string { return wc.cfg.EncodingAESKey }

// APIBaseURL is where API calls go.
func (wc *WeChat) APIBaseURL() string { return wc.cfg.APIBaseURL }

// TokenCacheKey is the cache key of the stable access token, as the SDK's
// stable handle spells it: gowechat_officialaccount__stable_access_token_<appid>.
func (wc *WeChat) TokenCacheKey() string {
	return credential.CacheKeyOfficialAccountPrefix + "_stable_access_token_" + wc.cfg.AppID
}

// accessToken returns the access token from the SDK's stable handle (the
// cache, or /cgi-bin/stable_token), redacted on error.
func (wc *WeChat) accessToken(ctx context.Context) (string, error) {
	tok, err := wc.oa.GetAccessTokenContext(ctx)
	if err != nil {
		return "", fmt.Errorf("wechat access token: %w", RedactError(err))
	}
	return tok, nil
}

// invalidateToken forgets the cached token after WeChat called it invalid
// (40001/42001/40014), so the next call fetches the token in force. It never
// force-refreshes: that would invalidate the token under every other replica.
func (wc *WeChat) invalidateToken() {
	if err := wc.cfg.Cache.Delete(wc.TokenCacheKey()); err != nil {
		wc.log.Warn("wechat: cannot delete the cached access token", "err", Redact(err.Error()))
	}
}

// tokenErrcode reports whether WeChat rejected the access token.
func tokenErrcode(code int64) bool { return code == 40001 || code == 42001 || code == 40014 }

// apiError is a WeChat API answer with an errcode ≠ 0.
type apiError struct {
	API     string
	ErrCode int64
	ErrMsg  string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: errcode %d: %s", e.API, e.ErrCode, e.ErrMsg)
}

// postJSON posts obj to the API path with the access token through the SDK's
// HTTP plumbing (so the URI modifier and client apply) and decodes the answer
// into out, which must embed util.CommonError. A rejected token is dropped
// and the call made once more. The error is redacted; an errcode is an
// *apiError, and the *callInfo says how far the request got.
func (wc *WeChat) postJSON(ctx context.Context, api, path string, obj, out any) (*callInfo, error) {
	var ci *callInfo
	for attempt := 0; ; attempt++ {
		tok, err := wc.accessToken(ctx)
		if err != nil {
			return &callInfo{tokenFailed: true}, err
		}
		var cctx context.Context
		cctx, ci = withCallInfo(ctx)
		body, err := util.PostJSONContext(cctx, DefaultAPIBaseURL+path+"?access_token="+url.QueryEscape(tok), obj)
		if err != nil {
			return ci, fmt.Errorf("%s: %w", api, RedactError(err))
		}
		// A retry decodes into what the first answer filled: WeChat leaves
		// errcode out of some successful answers (qrcode/create).
		reflect.ValueOf(out).Elem().SetZero()
		err = util.DecodeWithError(body, out, api)
		var ce *util.CommonError
		if errors.As(err, &ce) {
			if tokenErrcode(ce.ErrCode) && attempt == 0 {
				wc.log.Info("wechat: access token rejected, fetching it again", "api", api, "errcode", ce.ErrCode)
				wc.invalidateToken()
				continue
			}
			return ci, &apiError{API: api, ErrCode: ce.ErrCode, ErrMsg: Redact(ce.ErrMsg)}
		}
		if err != nil {
			ci.garbled = true
			return ci, fmt.Errorf("%s: %w", api, RedactError(err))
		}
		return ci, nil
	}
}

// SendText sends a customer-service text message (allowed within 48 hours of
// the user's last message, 5 per window). Proactive pushes are template
// messages (Sender); this is for answering later what a passive reply could
// not.
func (wc *WeChat) SendText(ctx context.Context, openid, text string) error {
	req := struct {
		ToUser  string `json:"touser"`
		MsgType string `json:"msgtype"`
		Text    struct {
			Content string `json:"content"`
		} `json:"text"`
	}{ToUser: openid, MsgType: "text"}
	req.Text.Content = text
	var out struct{ util.CommonError }
	_, err := wc.postJSON(ctx, "custom send", "/cgi-bin/message/custom/send", req, &out)
	return err
}

// ErrCode returns WeChat's errcode carried by err (0 when none).
func ErrCode(err error) int64 {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.ErrCode
	}
	return 0
}

// callInfo is what the transport learnt about one call.
type callInfo struct {
	wrote       atomic.Bool // the whole request was written: WeChat may have acted on it
	status      int
	contentType string
	limit       int64 // response bytes to read at most; 0: defaultResponseLimit
	tokenFailed bool  // the access token could not be had: nothing was sent
	garbled     bool  // WeChat answered 200 with something that is not its JSON
}

type callInfoKey struct{}

// defaultResponseLimit caps what any API answer may be (JSON answers are a
// few hundred bytes; media has its own limit).
const defaultResponseLimit = 4 << 20

func withCallInfo(ctx context.Context) (context.Context, *callInfo) {
	ci := &callInfo{}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				ci.wrote.Store(true)
			}
		},
	})
	return context.WithValue(ctx, callInfoKey{}, ci), ci
}

// sdkTransport is the RoundTripper of the client installed as the SDK's
// util.DefaultHTTPClient: it sends through the configured client's transport
// with that client's timeout, records the status and content type of the
// answer for the caller (the SDK keeps them to itself) and caps its size.
type sdkTransport struct{}

func (sdkTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := apiClient.Load()
	if c == nil {
		c = defaultHTTPClient()
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	cancel := context.CancelFunc(func() {})
	if c.Timeout > 0 {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), c.Timeout)
		req = req.WithContext(ctx)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		cancel()
		return nil, err
	}
	limit := int64(defaultResponseLimit)
	if ci, ok := req.Context().Value(callInfoKey{}).(*callInfo); ok {
		ci.status = resp.StatusCode
		ci.contentType = resp.Header.Get("Content-Type")
		if ci.limit > 0 {
			limit = ci.limit
		}
	}
	resp.Body = &limitedBody{r: io.LimitReader(resp.Body, limit), c: resp.Body, cancel: cancel}
	return resp, nil
}

type limitedBody struct {
	r      io.Reader
	c      io.Closer
	cancel context.CancelFunc
}

func (b *limitedBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *limitedBody) Close() error {
	err := b.c.Close()
	b.cancel()
	return err
}
