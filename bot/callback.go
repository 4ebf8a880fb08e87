package bot

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"
)

// The callback verifies, decrypts and answers with the SDK's own primitives
// (util.Signature, util.DecryptMsg, util.EncryptMsg, message.MixMessage)
// rather than through server.Server.Serve. Serve returns untyped errors, so a
// forged msg_signature (403) could not be told from malformed XML (400); it
// writes nothing at all on a failure; it logs the decrypted message, openids
// included, through the global logrus; its Render panics when the client has
// gone; and in safe mode it encrypts the reply with the request's own random
// bytes. Doing the five steps here keeps every status code deliberate.

const (
	// maxCallbackBody bounds a callback: WeChat's are a few KiB.
	maxCallbackBody = 64 << 10
	// timestampWindow is how far a callback's timestamp may be from now. The
	// SDK checks none, and in plain mode the signature covers only token,
	// timestamp and nonce, so without it a logged URL could be replayed forever.
	timestampWindow = 300 * time.Second
	// maxReplyBytes keeps a passive text reply under WeChat's 2048-byte limit
	// with room for the XML around it.
	maxReplyBytes = 1900
)

// ServeHTTP is the 公众号 callback, GET and POST /wechat.
func (b *Bot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	now := b.now()
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if !b.fresh(ts, now) {
		b.log.Warn("wechat callback: timestamp outside the window", "timestamp", ts)
		http.Error(w, "stale or missing timestamp", http.StatusForbidden)
		return
	}
	if !equalSignature(q.Get("signature"), util.Signature(b.token, ts, nonce)) {
		b.log.Warn("wechat callback: bad signature", "remote", r.RemoteAddr)
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	if r.Method == http.MethodGet {
		// URL verification: WeChat checks that we echo echostr (plain text,
		// in safe mode too).
		echostr, ok := q["echostr"]
		if !ok {
			http.Error(w, "missing echostr", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, echostr[0])
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "callback too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	safe := q.Get("encrypt_type") == "aes"
	raw := body
	if safe {
		var env message.EncryptedXMLMsg
		if err := xml.Unmarshal(body, &env); err != nil || env.EncryptedMsg == "" {
			http.Error(w, "malformed XML", http.StatusBadRequest)
			return
		}
		if !equalSignature(q.Get("msg_signature"), util.Signature(b.token, ts, nonce, env.EncryptedMsg)) {
			b.log.Warn("wechat callback: bad msg_signature", "remote", r.RemoteAddr)
			http.Error(w, "bad msg_signature", http.StatusForbidden)
			return
		}
		// DecryptMsg also checks that the message is for our appid: a
		// message that does not decrypt is not from our account.
		if _, raw, err = util.DecryptMsg(b.appID, env.EncryptedMsg, b.aesKey); err != nil {
			b.log.Warn("wechat callback: cannot decrypt", "err", err)
			http.Error(w, "cannot decrypt", http.StatusForbidden)
			return
		}
	}
	var msg message.MixMessage
	if err := xml.Unmarshal(raw, &msg); err != nil || msg.FromUserName == "" || msg.MsgType == "" {
		http.Error(w, "malformed XML", http.StatusBadRequest)
		return
	}

	reply := b.answer(r.Context(), &msg, now)
	b.writeReply(w, &msg, reply, safe, now)
}

// fresh reports whether the callback's timestamp is within the window of now.
func (b *Bot) fresh(ts string, now time.Time) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := now.Sub(time.Unix(sec, 0))
	return d <= timestampWindow && d >= -timestampWindow
}

func equalSignature(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// writeReply writes a passive text reply, or WeChat's "no reply" form when
// text is empty: an empty text reply would make WeChat show
// 该公众号暂时无法提供服务, so that never goes out.
func (b *Bot) writeReply(w http.ResponseWriter, msg *message.MixMessage, text string, safe bool, now time.Time) {
	text = strings.TrimSpace(text)
	if text == "" {
		if !safe {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "success")
		}
		return // safe mode: an empty 200 body
	}
	t := message.NewText(cutBytes(text, maxReplyBytes))
	t.SetToUserName(msg.FromUserName)
	t.SetFromUserName(msg.ToUserName)
	t.SetCreateTime(now.Unix())
	t.SetMsgType(message.MsgTypeText)
	out, err := xml.Marshal(t)
	if err != nil {
		b.log.Error("wechat callback: marshal reply", "err", err)
		return
	}
	if safe {
		// A fresh random, timestamp and nonce for the reply (the SDK reuses
		// the request's).
		random := make([]byte, 16)
		nonceBytes := make([]byte, 8)
		_, _ = rand.Read(random)
		_, _ = rand.Read(nonceBytes)
		hexRandom := []byte(hex.EncodeToString(random)[:16])
		enc, err := util.EncryptMsg(hexRandom, out, b.appID, b.aesKey)
		if err != nil {
			b.log.Error("wechat callback: encrypt reply", "err", err)
			return
		}
		ts := strconv.FormatInt(now.Unix(), 10)
		nonce := hex.EncodeToString(nonceBytes)
		out, err = xml.Marshal(message.ResponseEncryptedXMLMsg{
			EncryptedMsg: string(enc),
			MsgSignature: util.Signature(b.token, ts, nonce, string(enc)),
			Timestamp:    now.Unix(),
			Nonce:        nonce,
		})
		if err != nil {
			b.log.Error("wechat callback: marshal encrypted reply", "err", err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	_, _ = w.Write(out)
}

// cutBytes shortens s to at most n bytes on a rune boundary, ending in "…".
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
