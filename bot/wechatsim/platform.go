// Package wechatsim is a simulated WeChat official-account platform: the API
// endpoints hotlinebot calls (access tokens, template and customer-service
// messages, QR codes, media) and users who post signed callbacks, as WeChat
// does. Tests drive the whole bot with it, and `serve --sandbox` runs it in
// the same process so a newcomer sees every push printed in the console.
//
// It answers the way WeChat answers, traps included: a template push repeated
// with the same touser and client_msg_id within 10 minutes is not delivered
// again but answered with the first msgid; values that break a template key's
// type rule get 47003; an access token it did not issue, or one that expired
// on its clock, gets 40001 or 42001. Errcodes, HTTP errors and cut-off
// connections can be injected with FailNext.
//
// It imports nothing of hotlinebot's own.
package wechatsim

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The paths of the API endpoints the simulator serves.
const (
	PathStableToken  = "/cgi-bin/stable_token"
	PathToken        = "/cgi-bin/token"
	PathTemplateSend = "/cgi-bin/message/template/send"
	PathCustomSend   = "/cgi-bin/message/custom/send"
	PathQRCreate     = "/cgi-bin/qrcode/create"
	PathMediaGet     = "/cgi-bin/media/get"
)

// Failure modes FailNext takes besides real errcodes.
const (
	// CutOff reads the request, delivers nothing and closes the connection
	// without an answer.
	CutOff int64 = -1_000_001
	// CutOffAfterDelivery handles the request as usual (a template push is
	// delivered) and then closes the connection without an answer: the case
	// where the sender cannot know whether WeChat got the message.
	CutOffAfterDelivery int64 = -1_000_002
	// HTTP500 answers with HTTP status 500 and no JSON.
	HTTP500 int64 = -1_000_500
)

// DedupeWindow is how long WeChat remembers a touser+client_msg_id pair.
const DedupeWindow = 10 * time.Minute

// tokenLifetime is the expires_in WeChat gives access tokens.
const tokenLifetime = 7200 * time.Second

// Options configure a Platform.
type Options struct {
	AppID          string
	AppSecret      string
	Token          string // the callback Token, for users' signatures
	EncodingAESKey string // 43 characters; users post in safe mode when set
	OriginalID     string // the account's gh_ id; "gh_hotlinesim" when empty
	CallbackURL    string // where users post; may be set later with SetCallbackURL
	// Out receives every delivered template push in readable Chinese; nil
	// prints nothing.
	Out io.Writer
	// UserName names a user the platform has no SetUserName for (the
	// sandbox looks people up in the database); nil or "" shows the openid.
	UserName func(openid string) string
	// Now is the platform's clock; nil is the wall clock. Advance moves it.
	Now func() time.Time
	// Receipts makes the platform post a TEMPLATESENDJOBFINISH "success"
	// callback for every delivered push, as WeChat does, in the background.
	Receipts bool
}

// Request is one API request as the simulator received it.
type Request struct {
	At      time.Time
	Method  string
	Path    string
	Query   url.Values
	Body    []byte
	ErrCode int64 // the errcode answered; CutOff, CutOffAfterDelivery or HTTP500 for injected failures
}

// TemplateSend is one template-message request that carried a valid token,
// with its decoded body and what the platform did with it.
type TemplateSend struct {
	At          time.Time
	ToUser      string
	TemplateID  string
	URL         string
	ClientMsgID string
	Data        map[string]string // key → value
	MsgID       int64             // the msgid answered (0 on an error)
	ErrCode     int64
	ErrMsg      string
	Delivered   bool // shown to the user
	Deduped     bool // a repeat of a client_msg_id within the window: answered, not delivered
}

// CustomSend is one delivered customer-service message.
type CustomSend struct {
	At      time.Time
	ToUser  string
	MsgType string
	Text    string          // for text messages
	Body    json.RawMessage // the whole request body
}

// QRCode is one QR code created through qrcode/create.
type QRCode struct {
	At            time.Time
	ActionName    string
	SceneStr      string
	SceneID       int64
	ExpireSeconds int64
	Ticket        string
	URL           string
}

type media struct {
	data        []byte
	contentType string
}

type templateInfo struct {
	title  string
	labels map[string]string
}

type dedupeEntry struct {
	msgID int64
	at    time.Time
}

// Platform is the simulated WeChat. It is an http.Handler serving the API;
// all methods are safe for concurrent use.
type Platform struct {
	opts Options

	mu         sync.Mutex
	offset     time.Duration
	tokens     map[string]time.Time // issued access token → expiry
	stable     string               // the stable token in force
	requests   []Request
	sends      []TemplateSend
	custom     []CustomSend
	qrs        []QRCode
	media      map[string]media
	names      map[string]string
	templates  map[string]templateInfo
	unfollowed map[string]bool
	failures   map[string][]int64
	lastMsgID  int64
	dedupe     map[string]dedupeEntry
}

// New returns a platform for one official account.
func New(opts Options) *Platform {
	if opts.OriginalID == "" {
		opts.OriginalID = "gh_hotlinesim"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Platform{
		opts:       opts,
		tokens:     map[string]time.Time{},
		media:      map[string]media{},
		names:      map[string]string{},
		templates:  map[string]templateInfo{},
		unfollowed: map[string]bool{},
		failures:   map[string][]int64{},
		dedupe:     map[string]dedupeEntry{},
		lastMsgID:  1_000_000_000,
	}
}

// Now is the platform's clock.
func (p *Platform) Now() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now()
}

func (p *Platform) now() time.Time { return p.opts.Now().Add(p.offset) }

// Advance moves the platform's clock forward by d (tokens expire, the
// client_msg_id window passes).
func (p *Platform) Advance(d time.Duration) {
	p.mu.Lock()
	p.offset += d
	p.mu.Unlock()
}

// SetCallbackURL sets where users created by User post their callbacks.
func (p *Platform) SetCallbackURL(u string) {
	p.mu.Lock()
	p.opts.CallbackURL = u
	p.mu.Unlock()
}

// SetUserName names a user in the printed pushes.
func (p *Platform) SetUserName(openid, name string) {
	p.mu.Lock()
	p.names[openid] = name
	p.mu.Unlock()
}

// DefineTemplate makes a template known: once any template is defined, a
// push with an unknown template_id gets 40037. title and labels (key → what
// the key shows, e.g. "character_string1" → "工单编号") only make the printed
// pushes readable.
func (p *Platform) DefineTemplate(id, title string, labels map[string]string) {
	p.mu.Lock()
	p.templates[id] = templateInfo{title: title, labels: labels}
	p.mu.Unlock()
}

// Unfollow makes openid a user who no longer follows the account: template
// pushes to them get 43004. Follow undoes it.
func (p *Platform) Unfollow(openid string) {
	p.mu.Lock()
	p.unfollowed[openid] = true
	p.mu.Unlock()
}

// Follow undoes Unfollow.
func (p *Platform) Follow(openid string) {
	p.mu.Lock()
	delete(p.unfollowed, openid)
	p.mu.Unlock()
}

// AddMedia stores media a user "uploaded" (an image they sent), served by
// media/get under id.
func (p *Platform) AddMedia(id string, data []byte, contentType string) {
	p.mu.Lock()
	p.media[id] = media{data: bytes.Clone(data), contentType: contentType}
	p.mu.Unlock()
}

// FailNext makes the next n requests to path fail with errcode (a WeChat
// errcode such as 40001, 43004, 45009 or -1), or with CutOff,
// CutOffAfterDelivery or HTTP500. Failures queue up in the order given.
func (p *Platform) FailNext(path string, errcode int64, n int) {
	p.mu.Lock()
	for range n {
		p.failures[path] = append(p.failures[path], errcode)
	}
	p.mu.Unlock()
}

// ExpireTokens invalidates every access token issued so far, as a token
// rotated elsewhere would be: the next call with one gets 40001.
func (p *Platform) ExpireTokens() {
	p.mu.Lock()
	p.tokens = map[string]time.Time{}
	p.stable = ""
	p.mu.Unlock()
}

// Requests returns every API request received, oldest first.
func (p *Platform) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// RequestsTo returns the requests received on path.
func (p *Platform) RequestsTo(path string) []Request {
	var out []Request
	for _, r := range p.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// TemplateSends returns every template-message request that carried a valid
// token, delivered, deduped or refused, oldest first.
func (p *Platform) TemplateSends() []TemplateSend {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]TemplateSend(nil), p.sends...)
}

// Delivered returns the template pushes users actually received.
func (p *Platform) Delivered() []TemplateSend {
	var out []TemplateSend
	for _, s := range p.TemplateSends() {
		if s.Delivered {
			out = append(out, s)
		}
	}
	return out
}

// CustomSends returns the delivered customer-service messages.
func (p *Platform) CustomSends() []CustomSend {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]CustomSend(nil), p.custom...)
}

// QRCodes returns the QR codes created.
func (p *Platform) QRCodes() []QRCode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]QRCode(nil), p.qrs...)
}

// AccessToken returns a token the platform currently accepts (issuing one if
// none), for tests that call the API directly.
func (p *Platform) AccessToken() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stableToken(false)
}

// ServeHTTP serves the API.
func (p *Platform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	p.mu.Lock()
	rec := Request{At: p.now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body}
	var fail int64
	if q := p.failures[r.URL.Path]; len(q) > 0 {
		fail, p.failures[r.URL.Path] = q[0], q[1:]
	}
	p.mu.Unlock()

	switch fail {
	case 0, CutOffAfterDelivery:
	case CutOff:
		p.record(rec, CutOff)
		panic(http.ErrAbortHandler) // net/http closes the connection, answers nothing
	case HTTP500:
		p.record(rec, HTTP500)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	default:
		p.record(rec, fail)
		writeJSON(w, map[string]any{"errcode": fail, "errmsg": errmsg(fail)})
		return
	}

	var resp map[string]any
	switch {
	case r.URL.Path == PathStableToken && r.Method == http.MethodPost:
		resp = p.handleStableToken(body)
	case r.URL.Path == PathToken && r.Method == http.MethodGet:
		resp = p.handleToken(r.URL.Query())
	case r.URL.Path == PathTemplateSend && r.Method == http.MethodPost:
		resp = p.withToken(r, func() map[string]any { return p.handleTemplateSend(body) })
	case r.URL.Path == PathCustomSend && r.Method == http.MethodPost:
		resp = p.withToken(r, func() map[string]any { return p.handleCustomSend(body) })
	case r.URL.Path == PathQRCreate && r.Method == http.MethodPost:
		resp = p.withToken(r, func() map[string]any { return p.handleQRCreate(body) })
	case r.URL.Path == PathMediaGet && r.Method == http.MethodGet:
		var m media
		var found bool
		resp = p.withToken(r, func() map[string]any {
			p.mu.Lock()
			m, found = p.media[r.URL.Query().Get("media_id")]
			p.mu.Unlock()
			if !found {
				return codeResp(40007)
			}
			return nil
		})
		if resp == nil && found {
			p.record(rec, 0)
			if fail == CutOffAfterDelivery {
				panic(http.ErrAbortHandler)
			}
			w.Header().Set("Content-Type", m.contentType)
			w.Header().Set("Content-Disposition", `attachment; filename="`+r.URL.Query().Get("media_id")+`"`)
			w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
			_, _ = w.Write(m.data)
			return
		}
	default:
		http.NotFound(w, r)
		p.record(rec, 404)
		return
	}
	code, _ := resp["errcode"].(int64)
	p.record(rec, code)
	if fail == CutOffAfterDelivery {
		panic(http.ErrAbortHandler)
	}
	writeJSON(w, resp)
}

func (p *Platform) record(r Request, code int64) {
	r.ErrCode = code
	p.mu.Lock()
	p.requests = append(p.requests, r)
	p.mu.Unlock()
}

// withToken runs h when the request carries a live access token.
func (p *Platform) withToken(r *http.Request, h func() map[string]any) map[string]any {
	tok := r.URL.Query().Get("access_token")
	p.mu.Lock()
	exp, ok := p.tokens[tok]
	now := p.now()
	p.mu.Unlock()
	switch {
	case tok == "" || !ok:
		return codeResp(40001)
	case !now.Before(exp):
		return codeResp(42001)
	}
	return h()
}

func (p *Platform) handleStableToken(body []byte) map[string]any {
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return codeResp(47001)
	}
	if c := p.checkCredentials(req.GrantType, req.AppID, req.Secret); c != 0 {
		return codeResp(c)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tok := p.stableToken(req.ForceRefresh)
	return map[string]any{"access_token": tok, "expires_in": int64(p.tokens[tok].Sub(p.now()) / time.Second)}
}

// stableToken returns the stable token in force, as WeChat's stable_token
// does: the same token while it has more than 5 minutes left, a new one
// (the old one still valid until it expires) otherwise or when forced.
// p.mu is held.
func (p *Platform) stableToken(force bool) string {
	now := p.now()
	if exp, ok := p.tokens[p.stable]; ok && !force && exp.Sub(now) > 5*time.Minute {
		return p.stable
	}
	if force && p.stable != "" {
		delete(p.tokens, p.stable)
	}
	p.stable = newToken()
	p.tokens[p.stable] = now.Add(tokenLifetime)
	return p.stable
}

func (p *Platform) handleToken(q url.Values) map[string]any {
	if c := p.checkCredentials(q.Get("grant_type"), q.Get("appid"), q.Get("secret")); c != 0 {
		return codeResp(c)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	// Every call rotates: tokens from earlier calls live 5 more minutes.
	for t, exp := range p.tokens {
		if t != p.stable && exp.After(now.Add(5*time.Minute)) {
			p.tokens[t] = now.Add(5 * time.Minute)
		}
	}
	tok := newToken()
	p.tokens[tok] = now.Add(tokenLifetime)
	return map[string]any{"access_token": tok, "expires_in": int64(tokenLifetime / time.Second)}
}

func (p *Platform) checkCredentials(grant, appid, secret string) int64 {
	switch {
	case grant != "client_credential":
		return 40002
	case appid != p.opts.AppID:
		return 40013
	case secret != p.opts.AppSecret:
		return 40125
	}
	return 0
}

func (p *Platform) handleTemplateSend(body []byte) map[string]any {
	var req struct {
		ToUser      string `json:"touser"`
		TemplateID  string `json:"template_id"`
		URL         string `json:"url"`
		ClientMsgID string `json:"client_msg_id"`
		Data        map[string]struct {
			Value string `json:"value"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return codeResp(47001)
	}
	s := TemplateSend{ToUser: req.ToUser, TemplateID: req.TemplateID, URL: req.URL, ClientMsgID: req.ClientMsgID, Data: map[string]string{}}
	for k, v := range req.Data {
		s.Data[k] = v.Value
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	s.At = now
	answer := func(code int64, msg string) map[string]any {
		s.ErrCode, s.ErrMsg = code, msg
		p.sends = append(p.sends, s)
		if code != 0 {
			return map[string]any{"errcode": code, "errmsg": msg}
		}
		return map[string]any{"errcode": int64(0), "errmsg": "ok", "msgid": s.MsgID}
	}
	_, defined := p.templates[req.TemplateID]
	switch {
	case req.ToUser == "":
		return answer(40003, errmsg(40003))
	case req.TemplateID == "" || (len(p.templates) > 0 && !defined):
		return answer(40037, errmsg(40037))
	case p.unfollowed[req.ToUser]:
		return answer(43004, errmsg(43004))
	}
	for _, k := range sortedKeys(s.Data) {
		if !validValue(k, s.Data[k]) {
			return answer(47003, fmt.Sprintf("argument invalid! data.%s.value invalid rid: %s", k, rid()))
		}
	}
	if s.ClientMsgID != "" {
		key := s.ToUser + "\x00" + s.ClientMsgID
		if e, ok := p.dedupe[key]; ok && now.Sub(e.at) < DedupeWindow {
			s.MsgID, s.Deduped = e.msgID, true
			return answer(0, "ok")
		}
		p.lastMsgID++
		s.MsgID = p.lastMsgID
		p.dedupe[key] = dedupeEntry{msgID: s.MsgID, at: now}
	} else {
		p.lastMsgID++
		s.MsgID = p.lastMsgID
	}
	s.Delivered = true
	p.print(s)
	if p.opts.Receipts && p.opts.CallbackURL != "" {
		u := NewUser(p.opts.CallbackURL, s.ToUser, UserConfig{AppID: p.opts.AppID, Token: p.opts.Token,
			EncodingAESKey: p.opts.EncodingAESKey, OriginalID: p.opts.OriginalID, Safe: p.opts.EncodingAESKey != "", Now: p.Now})
		go func(msgID int64) {
			time.Sleep(500 * time.Millisecond) // WeChat reports later; by then the sender has marked the row sent
			_, _ = u.TemplateReceipt(msgID, "success")
		}(s.MsgID)
	}
	return answer(0, "ok")
}

func (p *Platform) handleCustomSend(body []byte) map[string]any {
	var req struct {
		ToUser  string `json:"touser"`
		MsgType string `json:"msgtype"`
		Text    struct {
			Content string `json:"content"`
		} `json:"text"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return codeResp(47001)
	}
	if req.ToUser == "" {
		return codeResp(40003)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.custom = append(p.custom, CustomSend{At: p.now(), ToUser: req.ToUser, MsgType: req.MsgType, Text: req.Text.Content, Body: bytes.Clone(body)})
	if w := p.opts.Out; w != nil {
		fmt.Fprintf(w, "【微信客服消息】发给 %s：%s\n", p.who(req.ToUser), req.Text.Content)
	}
	return codeResp(0)
}

func (p *Platform) handleQRCreate(body []byte) map[string]any {
	var req struct {
		ExpireSeconds int64  `json:"expire_seconds"`
		ActionName    string `json:"action_name"`
		ActionInfo    struct {
			Scene struct {
				SceneStr string `json:"scene_str"`
				SceneID  int64  `json:"scene_id"`
			} `json:"scene"`
		} `json:"action_info"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return codeResp(47001)
	}
	sc := req.ActionInfo.Scene
	switch req.ActionName {
	case "QR_STR_SCENE", "QR_LIMIT_STR_SCENE":
		if sc.SceneStr == "" || len(sc.SceneStr) > 64 {
			return codeResp(40097)
		}
	case "QR_SCENE", "QR_LIMIT_SCENE":
		if sc.SceneID <= 0 {
			return codeResp(40097)
		}
	default:
		return codeResp(40097)
	}
	if req.ActionName == "QR_SCENE" || req.ActionName == "QR_STR_SCENE" {
		switch {
		case req.ExpireSeconds == 0:
			req.ExpireSeconds = 60
		case req.ExpireSeconds > 2592000:
			req.ExpireSeconds = 2592000
		}
	} else {
		req.ExpireSeconds = 0
	}
	b := make([]byte, 45)
	_, _ = rand.Read(b)
	// Real tickets are base64 with '+', '/' and '=': callers must escape them.
	ticket := "gQ" + base64.StdEncoding.EncodeToString(b) + "+/=="
	short := make([]byte, 8)
	_, _ = rand.Read(short)
	q := QRCode{ActionName: req.ActionName, SceneStr: sc.SceneStr, SceneID: sc.SceneID, ExpireSeconds: req.ExpireSeconds,
		Ticket: ticket, URL: "http://weixin.qq.com/q/" + hex.EncodeToString(short)}
	p.mu.Lock()
	q.At = p.now()
	p.qrs = append(p.qrs, q)
	p.mu.Unlock()
	resp := map[string]any{"ticket": q.Ticket, "url": q.URL}
	if q.ExpireSeconds > 0 {
		resp["expire_seconds"] = q.ExpireSeconds
	}
	return resp
}

// print writes a delivered push for a person to read. p.mu is held.
func (p *Platform) print(s TemplateSend) {
	w := p.opts.Out
	if w == nil {
		return
	}
	info := p.templates[s.TemplateID]
	var b strings.Builder
	fmt.Fprintf(&b, "【微信推送】发给 %s\n", p.who(s.ToUser))
	if info.title != "" {
		fmt.Fprintf(&b, "  模板：%s（%s）\n", info.title, s.TemplateID)
	} else {
		fmt.Fprintf(&b, "  模板：%s\n", s.TemplateID)
	}
	for _, k := range sortedKeys(s.Data) {
		label := k
		if l := info.labels[k]; l != "" {
			label = l
		}
		fmt.Fprintf(&b, "  %s：%s\n", label, s.Data[k])
	}
	if s.URL != "" {
		fmt.Fprintf(&b, "  链接：%s\n", s.URL)
	}
	fmt.Fprintf(&b, "  （msgid %d，client_msg_id %s）\n", s.MsgID, s.ClientMsgID)
	_, _ = io.WriteString(w, b.String())
}

func (p *Platform) who(openid string) string {
	if n := p.names[openid]; n != "" {
		return n + "（" + openid + "）"
	}
	if p.opts.UserName != nil {
		if n := p.opts.UserName(openid); n != "" {
			return n + "（" + openid + "）"
		}
	}
	return openid
}

// sortedKeys orders template keys by their number suffix, then by name, the
// way a template shows them.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ni, nj := keyNumber(keys[i]), keyNumber(keys[j])
		if ni != nj {
			return ni < nj
		}
		return keys[i] < keys[j]
	})
	return keys
}

func keyNumber(k string) int {
	i := len(k)
	for i > 0 && k[i-1] >= '0' && k[i-1] <= '9' {
		i--
	}
	n, _ := strconv.Atoi(k[i:])
	return n
}

func newToken() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return "SIM_" + base64.RawURLEncoding.EncodeToString(b)
}

func rid() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b[:3]) + "-" + hex.EncodeToString(b[3:])
}

func codeResp(code int64) map[string]any {
	return map[string]any{"errcode": code, "errmsg": errmsg(code)}
}

// errmsg is WeChat's errmsg for a code, rid included.
func errmsg(code int64) string {
	var m string
	switch code {
	case 0:
		return "ok"
	case -1:
		m = "system error"
	case 40001:
		m = "invalid credential, access_token is invalid or not latest, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r"
	case 40002:
		m = "invalid grant_type"
	case 40003:
		m = "invalid openid"
	case 40007:
		m = "invalid media_id"
	case 40013:
		m = "invalid appid"
	case 40014:
		m = "invalid access_token"
	case 40037:
		m = "invalid template_id"
	case 40097:
		m = "invalid args"
	case 40125:
		m = "invalid appsecret"
	case 42001:
		m = "access_token expired"
	case 43004:
		m = "require subscribe"
	case 43101:
		m = "user refuse to accept the msg"
	case 45009:
		m = "reach max api daily quota limit"
	case 47001:
		m = "data format error"
	case 47003:
		m = "argument invalid!"
	default:
		m = "simulated error"
	}
	return m + " rid: " + rid()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}
