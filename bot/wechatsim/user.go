package wechatsim

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// UserConfig is what a user needs to post callbacks as WeChat would.
type UserConfig struct {
	AppID          string
	Token          string // the callback Token
	EncodingAESKey string // needed for safe mode
	OriginalID     string // the account's gh_ id (ToUserName); "gh_hotlinesim" when empty
	Safe           bool   // post in safe mode (encrypt_type=aes)
	HTTPClient     *http.Client
	Now            func() time.Time // nil: the wall clock
}

// Message is one callback a user's WeChat posts. Zero fields are left out.
type Message struct {
	MsgType       string // text, image, event
	Content       string
	PicURL        string
	MediaID       string
	Event         string // subscribe, unsubscribe, SCAN, TEMPLATESENDJOBFINISH…
	EventKey      string
	Ticket        string
	MsgID         int64  // MsgId of a user message; 0: a fresh one for text and image
	TemplateMsgID int64  // MsgID of TEMPLATESENDJOBFINISH
	Status        string // TEMPLATESENDJOBFINISH: success, failed:user block, failed: system failed
	CreateTime    int64  // 0: now
}

// Reply is the bot's answer to one callback.
type Reply struct {
	Status  int
	Body    []byte // as received
	XML     []byte // the reply XML, decrypted in safe mode; nil for an empty or "success" answer
	MsgType string
	Content string // a text reply's content
	MediaID string // an image reply's media id
}

// Text is the reply's text content ("" for an empty, "success" or non-text answer).
func (r *Reply) Text() string { return r.Content }

// SendOption changes how one callback is signed.
type SendOption func(*sendConfig)

type sendConfig struct {
	forgeSignature, forgeMsgSignature bool
	at                                time.Time
}

// WithForgedSignature signs the query with the wrong token.
func WithForgedSignature() SendOption { return func(c *sendConfig) { c.forgeSignature = true } }

// WithForgedMsgSignature gives a safe-mode message a wrong msg_signature
// (the query signature stays valid).
func WithForgedMsgSignature() SendOption { return func(c *sendConfig) { c.forgeMsgSignature = true } }

// WithTimestamp signs with timestamp t instead of now (a stale or future
// callback).
func WithTimestamp(t time.Time) SendOption { return func(c *sendConfig) { c.at = t } }

// User is a WeChat user of the account, posting callbacks to the bot.
type User struct {
	OpenID string

	url string
	cfg UserConfig

	platform *Platform // set by Platform.User: follows and unfollows reach it

	mu   sync.Mutex
	last *posted // the last callback, for Retry
}

type posted struct {
	url  string
	body []byte
}

// msgIDs numbers user messages; it starts from the clock so separate runs
// against one database do not collide.
var (
	msgIDs     atomic.Int64
	msgIDsOnce sync.Once
)

func nextMsgID() int64 {
	msgIDsOnce.Do(func() { msgIDs.Store(time.Now().UnixMicro()) })
	return msgIDs.Add(1)
}

// NewUser returns a user posting to callbackURL as openid.
func NewUser(callbackURL, openid string, cfg UserConfig) *User {
	if cfg.OriginalID == "" {
		cfg.OriginalID = "gh_hotlinesim"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &User{OpenID: openid, url: callbackURL, cfg: cfg}
}

// User returns a user of this platform's account posting to its
// CallbackURL, on its clock, in safe mode when the platform has an
// EncodingAESKey.
func (p *Platform) User(openid string) *User {
	p.mu.Lock()
	o := p.opts
	p.mu.Unlock()
	u := NewUser(o.CallbackURL, openid, UserConfig{
		AppID: o.AppID, Token: o.Token, EncodingAESKey: o.EncodingAESKey, OriginalID: o.OriginalID,
		Safe: o.EncodingAESKey != "", Now: p.Now,
	})
	u.platform = p
	return u
}

// Plain returns a copy of u that posts in plain mode.
func (u *User) Plain() *User {
	c := NewUser(u.url, u.OpenID, u.cfg)
	c.cfg.Safe, c.platform = false, u.platform
	return c
}

// Safe returns a copy of u that posts in safe mode (AES).
func (u *User) Safe() *User {
	c := NewUser(u.url, u.OpenID, u.cfg)
	c.cfg.Safe, c.platform = true, u.platform
	return c
}

// Say sends a text message and returns the text of the bot's reply.
func (u *User) Say(text string, opts ...SendOption) (reply string, status int, err error) {
	r, err := u.Send(Message{MsgType: "text", Content: text}, opts...)
	if err != nil {
		return "", 0, err
	}
	return r.Content, r.Status, nil
}

// SendImage sends an image message with a media id (see Platform.AddMedia).
func (u *User) SendImage(mediaID string, opts ...SendOption) (*Reply, error) {
	return u.Send(Message{MsgType: "image", MediaID: mediaID, PicURL: "http://mmbiz.qpic.cn/sim/" + mediaID}, opts...)
}

// Subscribe follows the account; a non-empty scene is a parametric QR code's
// scene, sent as EventKey "qrscene_<scene>". A user of a Platform then gets
// template pushes again.
func (u *User) Subscribe(scene string, opts ...SendOption) (*Reply, error) {
	if u.platform != nil {
		u.platform.Follow(u.OpenID)
	}
	m := Message{MsgType: "event", Event: "subscribe"}
	if scene != "" {
		m.EventKey, m.Ticket = "qrscene_"+scene, "sim-ticket"
	}
	return u.Send(m, opts...)
}

// Scan is a follower scanning a parametric QR code (EventKey is the bare scene).
func (u *User) Scan(scene string, opts ...SendOption) (*Reply, error) {
	return u.Send(Message{MsgType: "event", Event: "SCAN", EventKey: scene, Ticket: "sim-ticket"}, opts...)
}

// Unsubscribe unfollows the account; a user of a Platform then gets no
// template pushes (43004).
func (u *User) Unsubscribe(opts ...SendOption) (*Reply, error) {
	if u.platform != nil {
		u.platform.Unfollow(u.OpenID)
	}
	return u.Send(Message{MsgType: "event", Event: "unsubscribe"}, opts...)
}

// TemplateReceipt is WeChat's delivery report for a template push.
func (u *User) TemplateReceipt(msgID int64, status string, opts ...SendOption) (*Reply, error) {
	return u.Send(Message{MsgType: "event", Event: "TEMPLATESENDJOBFINISH", TemplateMsgID: msgID, Status: status}, opts...)
}

// Send posts one callback, signed (and in safe mode encrypted) as WeChat
// does, and reads the reply.
func (u *User) Send(m Message, opts ...SendOption) (*Reply, error) {
	var sc sendConfig
	for _, o := range opts {
		o(&sc)
	}
	now := u.cfg.Now()
	if sc.at.IsZero() {
		sc.at = now
	}
	if m.CreateTime == 0 {
		m.CreateTime = now.Unix()
	}
	if m.MsgID == 0 && (m.MsgType == "text" || m.MsgType == "image") {
		m.MsgID = nextMsgID()
	}
	raw, err := xml.Marshal(u.callbackXML(m))
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(sc.at.Unix(), 10)
	nonce := randomHex(5)
	token := u.cfg.Token
	if sc.forgeSignature {
		token += "-forged"
	}
	q := url.Values{}
	q.Set("signature", util.Signature(token, ts, nonce))
	q.Set("timestamp", ts)
	q.Set("nonce", nonce)
	q.Set("openid", u.OpenID)
	body := raw
	if u.cfg.Safe {
		enc, err := util.EncryptMsg([]byte(randomHex(8)), raw, u.cfg.AppID, u.cfg.EncodingAESKey)
		if err != nil {
			return nil, fmt.Errorf("wechatsim: encrypt: %w", err)
		}
		msgSig := util.Signature(u.cfg.Token, ts, nonce, string(enc))
		if sc.forgeMsgSignature {
			msgSig = util.Signature(u.cfg.Token+"-forged", ts, nonce, string(enc))
		}
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", msgSig)
		body, err = xml.Marshal(encryptedXML{ToUserName: cdata{u.cfg.OriginalID}, Encrypt: cdata{string(enc)}})
		if err != nil {
			return nil, err
		}
	}
	p := &posted{url: u.url + sep(u.url) + q.Encode(), body: body}
	u.mu.Lock()
	u.last = p
	u.mu.Unlock()
	return u.post(p)
}

// Retry posts the last callback again, byte for byte, as WeChat does when an
// answer takes more than 5 seconds (same MsgId, same signature).
func (u *User) Retry() (*Reply, error) {
	u.mu.Lock()
	p := u.last
	u.mu.Unlock()
	if p == nil {
		return nil, errors.New("wechatsim: nothing to retry")
	}
	return u.post(p)
}

// PostRaw posts body with a valid plain-mode signature, for malformed or
// oversized callbacks.
func (u *User) PostRaw(body []byte) (*Reply, error) {
	ts := strconv.FormatInt(u.cfg.Now().Unix(), 10)
	nonce := randomHex(5)
	q := url.Values{"signature": {util.Signature(u.cfg.Token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "openid": {u.OpenID}}
	return u.post(&posted{url: u.url + sep(u.url) + q.Encode(), body: body})
}

// VerifyURL does the GET handshake WeChat makes when the callback URL is
// saved in the console, and returns the body the bot answered.
func (u *User) VerifyURL(echostr string, opts ...SendOption) (body string, status int, err error) {
	var sc sendConfig
	for _, o := range opts {
		o(&sc)
	}
	if sc.at.IsZero() {
		sc.at = u.cfg.Now()
	}
	ts := strconv.FormatInt(sc.at.Unix(), 10)
	nonce := randomHex(5)
	token := u.cfg.Token
	if sc.forgeSignature {
		token += "-forged"
	}
	q := url.Values{"signature": {util.Signature(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {echostr}}
	resp, err := u.cfg.HTTPClient.Get(u.url + sep(u.url) + q.Encode())
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

func (u *User) post(p *posted) (*Reply, error) {
	resp, err := u.cfg.HTTPClient.Post(p.url, "text/xml", bytes.NewReader(p.body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	r := &Reply{Status: resp.StatusCode, Body: b}
	if resp.StatusCode != http.StatusOK {
		return r, nil
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 || string(trimmed) == "success" {
		return r, nil
	}
	inner := trimmed
	if u.cfg.Safe {
		var e struct {
			Encrypt      string `xml:"Encrypt"`
			MsgSignature string `xml:"MsgSignature"`
			TimeStamp    string `xml:"TimeStamp"`
			Nonce        string `xml:"Nonce"`
		}
		if err := xml.Unmarshal(trimmed, &e); err != nil {
			return r, fmt.Errorf("wechatsim: safe-mode reply is not XML: %w", err)
		}
		if e.Encrypt == "" {
			return r, fmt.Errorf("wechatsim: safe-mode reply is not encrypted: %q", trimmed)
		}
		if util.Signature(u.cfg.Token, e.TimeStamp, e.Nonce, e.Encrypt) != e.MsgSignature {
			return r, errors.New("wechatsim: safe-mode reply has a bad MsgSignature")
		}
		_, plain, err := util.DecryptMsg(u.cfg.AppID, e.Encrypt, u.cfg.EncodingAESKey)
		if err != nil {
			return r, fmt.Errorf("wechatsim: decrypt reply: %w", err)
		}
		inner = plain
	}
	var x struct {
		ToUserName   string `xml:"ToUserName"`
		FromUserName string `xml:"FromUserName"`
		MsgType      string `xml:"MsgType"`
		Content      string `xml:"Content"`
		Image        struct {
			MediaID string `xml:"MediaId"`
		} `xml:"Image"`
	}
	if err := xml.Unmarshal(inner, &x); err != nil {
		return r, fmt.Errorf("wechatsim: reply is not XML: %w", err)
	}
	if x.ToUserName != u.OpenID {
		return r, fmt.Errorf("wechatsim: reply addressed to %q, not %q", x.ToUserName, u.OpenID)
	}
	r.XML, r.MsgType, r.Content, r.MediaID = inner, x.MsgType, x.Content, x.Image.MediaID
	if r.MsgType == "text" && strings.TrimSpace(r.Content) == "" {
		// WeChat shows "该公众号暂时无法提供服务" for an empty text reply.
		return r, errors.New("wechatsim: empty text reply (WeChat would show 该公众号暂时无法提供服务)")
	}
	return r, nil
}

type cdata struct {
	V string `xml:",cdata"`
}

type encryptedXML struct {
	XMLName    xml.Name `xml:"xml"`
	ToUserName cdata
	Encrypt    cdata
}

type callbackXMLMsg struct {
	XMLName       xml.Name `xml:"xml"`
	ToUserName    cdata
	FromUserName  cdata
	CreateTime    int64
	MsgType       cdata
	Content       *cdata `xml:",omitempty"`
	PicURL        *cdata `xml:"PicUrl,omitempty"`
	MediaID       *cdata `xml:"MediaId,omitempty"`
	Event         *cdata `xml:",omitempty"`
	EventKey      *cdata `xml:",omitempty"`
	Ticket        *cdata `xml:",omitempty"`
	MsgID         int64  `xml:"MsgId,omitempty"`
	TemplateMsgID int64  `xml:"MsgID,omitempty"`
	Status        *cdata `xml:",omitempty"`
}

func (u *User) callbackXML(m Message) callbackXMLMsg {
	opt := func(s string) *cdata {
		if s == "" {
			return nil
		}
		return &cdata{s}
	}
	x := callbackXMLMsg{
		ToUserName: cdata{u.cfg.OriginalID}, FromUserName: cdata{u.OpenID}, CreateTime: m.CreateTime,
		MsgType: cdata{m.MsgType}, Content: opt(m.Content), PicURL: opt(m.PicURL), MediaID: opt(m.MediaID),
		Event: opt(m.Event), Ticket: opt(m.Ticket), MsgID: m.MsgID, TemplateMsgID: m.TemplateMsgID, Status: opt(m.Status),
	}
	if m.MsgType == "event" && m.Event != "TEMPLATESENDJOBFINISH" {
		x.EventKey = &cdata{m.EventKey} // WeChat sends an empty EventKey on a plain follow
	}
	return x
}

func sep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
