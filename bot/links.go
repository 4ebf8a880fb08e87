package bot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
)

// DefaultLinkTTL is how long a link in a push stays valid when Links.TTL is
// zero: long enough for a ticket's whole 办理 period; `查 37` gives a fresh one.
const DefaultLinkTTL = 30 * 24 * time.Hour

// Links signs and checks the H5 links put into pushes. A link is for one
// recipient and expires: `<public_url>/t/37?sig=<exp>.<person>.<mac>`, where
// mac is HMAC-SHA256 (base64url) over the path, the person id and the expiry
// (Unix seconds). Anyone holding a link sees the page as its recipient would,
// until it expires.
type Links struct {
	Secret    []byte
	PublicURL string        // server.public_url
	TTL       time.Duration // 0: DefaultLinkTTL
}

// DeriveLinkSecret makes the link secret from configuration every replica
// shares (the admin token and the AppSecret), so links need no stored key
// and rotating either secret invalidates every link given out.
func DeriveLinkSecret(parts ...string) []byte {
	m := hmac.New(sha256.New, []byte("hotlinebot h5 links v1"))
	for _, p := range parts {
		m.Write([]byte(strconv.Itoa(len(p))))
		m.Write([]byte{':'})
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// TicketPath is the path of a ticket's page.
func TicketPath(ticketID int64) string { return "/t/" + strconv.FormatInt(ticketID, 10) }

// DigestPath is the path of the digest page of date ("2006-01-02").
func DigestPath(date string) string { return "/d/" + date }

// TicketURL is the signed link to ticket ticketID's page for personID.
func (l *Links) TicketURL(ticketID, personID int64, now time.Time) string {
	return l.SignedURL(TicketPath(ticketID), personID, now)
}

// DigestURL is the signed link to the digest page of date for personID.
func (l *Links) DigestURL(date string, personID int64, now time.Time) string {
	return l.SignedURL(DigestPath(date), personID, now)
}

// SignedURL is the signed link to any page path for personID.
func (l *Links) SignedURL(path string, personID int64, now time.Time) string {
	ttl := l.TTL
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	exp := now.Add(ttl).Unix()
	sig := strconv.FormatInt(exp, 10) + "." + strconv.FormatInt(personID, 10) + "." + l.mac(path, personID, exp)
	return strings.TrimRight(l.PublicURL, "/") + path + "?sig=" + url.QueryEscape(sig)
}

func (l *Links) mac(path string, personID, exp int64) string {
	m := hmac.New(sha256.New, l.Secret)
	m.Write([]byte(path + "\n" + strconv.FormatInt(personID, 10) + "\n" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ErrLinkInvalid and ErrLinkExpired are Verify's refusals (both EFORBIDDEN:
// the page answers 403).
var (
	ErrLinkInvalid = hotlinebot.Errorf(hotlinebot.EFORBIDDEN, "链接无效：请从微信推送中重新打开，或发送“查 工单号”获取新链接")
	ErrLinkExpired = hotlinebot.Errorf(hotlinebot.EFORBIDDEN, "链接已过期：请发送“查 工单号”获取新链接")
)

// Verify checks the sig of a request for path (as the router sees it, e.g.
// "/t/37") and returns the recipient's person id. A missing, malformed or
// tampered sig is ErrLinkInvalid, a stale one ErrLinkExpired.
func (l *Links) Verify(path string, query url.Values, now time.Time) (personID int64, err error) {
	if len(l.Secret) == 0 {
		return 0, ErrLinkInvalid
	}
	parts := strings.Split(query.Get("sig"), ".")
	if len(parts) != 3 {
		return 0, ErrLinkInvalid
	}
	exp, err1 := strconv.ParseInt(parts[0], 10, 64)
	person, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || person <= 0 {
		return 0, ErrLinkInvalid
	}
	if !hmac.Equal([]byte(parts[2]), []byte(l.mac(path, person, exp))) {
		return 0, ErrLinkInvalid
	}
	if !now.Before(time.Unix(exp, 0)) {
		return 0, ErrLinkExpired
	}
	return person, nil
}
