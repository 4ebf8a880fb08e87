// Package bot is everything that faces WeChat: the callback, binding, the
// chat commands, evidence images, the template-message sender and the signed
// H5 pages.
package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/jmoiron/sqlx"
	"github.com/silenceper/wechat/v2/officialaccount/message"
)

// Options configure a Bot.
type Options struct {
	Store  *storage.Store // required
	WeChat *WeChat        // required: the callback credentials and the media API
	// Links signs the H5 ticket links that 查 answers with; nil leaves the
	// link out.
	Links TicketLinker
	// Location is the time zone deadlines are shown in (calendar.timezone);
	// nil is Asia/Shanghai.
	Location *time.Location
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: slog.Default()

	// DBTimeout bounds the database work of one callback, well inside
	// WeChat's 5 seconds; 0 is 3 s.
	DBTimeout time.Duration
	// Callbacks is how many callbacks are handled at once; 0 is 8. Each
	// holds a transaction while it reads through the database pool (20
	// connections), so more than half the pool at once could deadlock it.
	Callbacks int
	// EvidenceFetches is how many evidence images are fetched at once; 0 is 4.
	EvidenceFetches int
	// EvidenceTimeout bounds one fetch from the media API; 0 is 30 s.
	EvidenceTimeout time.Duration
}

// TicketLinker makes the signed link to a ticket's H5 page for one person;
// *Links is one.
type TicketLinker interface {
	TicketURL(ticketID, personID int64, now time.Time) string
}

// mediaAPI downloads what a user sent and answers them later; *WeChat is one.
type mediaAPI interface {
	FetchMedia(ctx context.Context, mediaID string) ([]byte, string, error)
	SendText(ctx context.Context, openid, text string) error
}

// Bot answers the 公众号's callbacks. It is an http.Handler for GET and POST
// /wechat.
type Bot struct {
	store *storage.Store
	media mediaAPI
	links TicketLinker
	loc   *time.Location
	now   func() time.Time
	log   *slog.Logger

	token, appID, aesKey string

	dbTimeout       time.Duration
	evidenceTimeout time.Duration
	fetchBackoff    time.Duration // between a fetch's attempts: 1×, 4×
	callbackSlots   chan struct{}
	fetchSlots      chan struct{}
	fetchMu         sync.Mutex // guards closed and fetches.Add against Shutdown
	closed          bool
	fetches         sync.WaitGroup
	stop            context.Context
	stopFetches     context.CancelFunc
}

// New returns a Bot.
func New(opts Options) (*Bot, error) {
	if opts.Store == nil {
		return nil, errors.New("bot: Options.Store is required")
	}
	if opts.WeChat == nil {
		return nil, errors.New("bot: Options.WeChat is required")
	}
	b := &Bot{
		store: opts.Store, media: opts.WeChat, links: opts.Links, loc: opts.Location,
		now: opts.Now, log: opts.Logger,
		token: opts.WeChat.Token(), appID: opts.WeChat.AppID(), aesKey: opts.WeChat.EncodingAESKey(),
		dbTimeout: opts.DBTimeout, evidenceTimeout: opts.EvidenceTimeout, fetchBackoff: time.Second,
	}
	if b.token == "" {
		return nil, errors.New("bot: the WeChat callback token is empty")
	}
	if b.loc == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			return nil, fmt.Errorf("bot: time zone: %w", err)
		}
		b.loc = loc
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.dbTimeout <= 0 {
		b.dbTimeout = 3 * time.Second
	}
	if b.evidenceTimeout <= 0 {
		b.evidenceTimeout = 30 * time.Second
	}
	n := opts.EvidenceFetches
	if n <= 0 {
		n = 4
	}
	b.fetchSlots = make(chan struct{}, n)
	if n = opts.Callbacks; n <= 0 {
		n = 8
	}
	b.callbackSlots = make(chan struct{}, n)
	b.stop, b.stopFetches = context.WithCancel(context.Background())
	return b, nil
}

// Shutdown stops starting evidence fetches and waits for those under way,
// until ctx ends (then they are cancelled; a fetch cut short stays pending
// and FetchPendingEvidence picks it up).
func (b *Bot) Shutdown(ctx context.Context) error {
	b.fetchMu.Lock()
	b.closed = true
	b.fetchMu.Unlock()
	done := make(chan struct{})
	go func() { b.fetches.Wait(); close(done) }()
	select {
	case <-done:
		b.stopFetches()
		return nil
	case <-ctx.Done():
		b.stopFetches()
		<-done
		return ctx.Err()
	}
}

// dedupeKey names an inbound message the way WeChat's retries repeat it
// (DESIGN.md, rule 4).
func dedupeKey(msg *message.MixMessage) string {
	switch {
	case msg.MsgType == message.MsgTypeEvent && msg.Event == message.EventTemplateSendJobFinish:
		return "tpl:" + strconv.FormatInt(msg.TemplateMsgID, 10)
	case msg.MsgType == message.MsgTypeEvent:
		key := msg.EventKey
		if strings.Contains(key, "bind:") {
			// A bind QR's scene holds the bind code, which is kept only
			// hashed: so is it here.
			sum := sha256.Sum256([]byte(key))
			key = "sha256:" + hex.EncodeToString(sum[:])
		}
		return fmt.Sprintf("evt:%s:%d:%s:%s", msg.FromUserName, msg.CreateTime, msg.Event, key)
	case msg.MsgID != 0:
		return "msg:" + strconv.FormatInt(msg.MsgID, 10)
	}
	// A message without MsgId does not come from WeChat as documented; keep
	// it apart by sender and time.
	return fmt.Sprintf("raw:%s:%d:%s", msg.FromUserName, msg.CreateTime, msg.MsgType)
}

// turn is one inbound message being handled in its transaction.
type turn struct {
	ctx    context.Context
	tx     *sqlx.Tx
	msg    *message.MixMessage
	openid string
	now    time.Time
	// after runs once the transaction has committed (evidence fetches).
	after []func()
}

// answer handles one verified callback and returns the passive reply ("" for
// none). Every message is recorded with its dedupe key in the transaction of
// its effect; a retry gets the stored reply. When the database cannot be
// reached nothing is recorded and the sender is asked to send again.
func (b *Bot) answer(ctx context.Context, msg *message.MixMessage, now time.Time) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.dbTimeout)
	defer cancel()
	// The database work runs in its own goroutine so that the reply leaves
	// on time even when the driver does not honour ctx (lib/pq's connection
	// handshake with a server that accepts and never answers): WeChat must
	// have an answer within 5 seconds. Work that ends after we answered
	// busy still commits or rolls back as a whole; a commit is then what a
	// retry finds.
	type result struct {
		reply string
		dup   bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				b.log.Error("wechat callback: panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- result{err: fmt.Errorf("panic: %v", p)}
			}
		}()
		// A callback's transaction holds one connection while its reads
		// take another: with every connection held by a transaction, all
		// would wait for the deadline. So only a few run at once.
		select {
		case b.callbackSlots <- struct{}{}:
			defer func() { <-b.callbackSlots }()
		case <-ctx.Done():
			done <- result{err: fmt.Errorf("waiting for a turn: %w", ctx.Err())}
			return
		}
		t := &turn{ctx: ctx, msg: msg, openid: string(msg.FromUserName), now: now}
		reply, dup, err := b.store.Inbound(ctx, dedupeKey(msg), t.openid, now, func(tx *sqlx.Tx) (string, error) {
			t.tx = tx
			t.after = nil
			return b.handle(t)
		})
		if err == nil && !dup {
			for _, f := range t.after {
				f()
			}
		}
		done <- result{reply, dup, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		r.err = ctx.Err()
	}
	if r.err != nil {
		b.log.Warn("wechat callback: not handled; the sender is asked to send again",
			"msg_type", msg.MsgType, "event", msg.Event, "err", r.err)
		return replyBusy
	}
	if r.dup {
		b.log.Info("wechat callback: a retry, answered with the stored reply", "msg_type", msg.MsgType, "event", msg.Event)
	}
	return r.reply
}

// handle computes the effect and the reply of one message inside its
// transaction. A person's mistake is a reply; an error rolls back.
func (b *Bot) handle(t *turn) (string, error) {
	msg := t.msg
	if msg.MsgType == message.MsgTypeEvent {
		return b.event(t)
	}
	p, err := b.store.PersonByOpenID(t.ctx, t.openid)
	if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
		if msg.MsgType == message.MsgTypeText {
			if c := Parse(string(msg.Content)); c.Verb == VerbBind {
				return b.bind(t, c.Code)
			}
		}
		return replyUnbound, nil
	}
	if err != nil {
		return "", err
	}
	if !p.Reachable {
		// Only a follower can write to the account: a follow we missed
		// (its callback came while the database was down) shows here.
		if p, err = b.store.MarkReachableTx(t.ctx, t.tx, t.openid, t.now); err != nil {
			return "", err
		}
	}
	switch msg.MsgType {
	case message.MsgTypeText:
		c := Parse(string(msg.Content))
		b.log.Info("wechat command", "person", p.ID, "verb", c.Verb, "ref", c.Ref)
		return b.command(t, p, c)
	case message.MsgTypeImage:
		return b.evidence(t, p)
	case message.MsgTypeVoice:
		return replyVoice, nil
	}
	return helpFor(p, ""), nil
}

// event handles follow, QR scans, unfollow, menu clicks and template receipts.
func (b *Bot) event(t *turn) (string, error) {
	msg := t.msg
	switch msg.Event {
	case message.EventTemplateSendJobFinish:
		_, _, err := b.store.ApplyReceiptTx(t.ctx, t.tx, msg.TemplateMsgID, msg.Status, t.now)
		return "", err
	case message.EventSubscribe, message.EventScan:
		// Either event means the sender follows the account now: a bound
		// person who unfollowed is reachable again, whatever QR code they
		// scanned (their own bind QR, used already, included).
		p, err := b.store.MarkReachableTx(t.ctx, t.tx, t.openid, t.now)
		bound := err == nil
		if err != nil && hotlinebot.ErrorCodeOf(err) != hotlinebot.ENOTFOUND {
			return "", err
		}
		key := msg.EventKey
		if msg.Event == message.EventSubscribe {
			key = trimPrefix(key, "qrscene_")
		}
		if code, ok := cutPrefix(key, "bind:"); ok {
			return b.bind(t, code)
		}
		if msg.Event == message.EventScan {
			return "", nil
		}
		if !bound {
			return replyWelcome + "\n\n" + replyUnbound, nil
		}
		return fmt.Sprintf("欢迎回来，%s。发送「待办」查看您的工单，发送「帮助」查看可用的指令。", p.Name), nil
	case message.EventUnsubscribe:
		_, err := b.store.MarkUnreachableTx(t.ctx, t.tx, t.openid, t.now)
		if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
			return "", nil
		}
		return "", err // nobody reads a reply to an unfollow
	case message.EventClick:
		// A menu button whose key is a command ("待办", "帮助") works like
		// the message.
		p, err := b.store.PersonByOpenID(t.ctx, t.openid)
		if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
			return replyUnbound, nil
		}
		if err != nil {
			return "", err
		}
		return b.command(t, p, Parse(msg.EventKey))
	}
	return "", nil
}

func trimPrefix(s, prefix string) string {
	r, _ := cutPrefix(s, prefix)
	return r
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return s, false
}
