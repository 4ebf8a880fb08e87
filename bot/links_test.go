package bot

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLinks(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	l := &Links{Secret: []byte("k"), PublicURL: "https://h.example.cn/", TTL: time.Hour}
	raw := l.TicketURL(37, 12, now)
	if !strings.HasPrefix(raw, "https://h.example.cn/t/37?sig=") {
		t.Fatalf("TicketURL = %s", raw)
	}
	u, _ := url.Parse(raw)
	if p, err := l.Verify(u.Path, u.Query(), now.Add(59*time.Minute)); err != nil || p != 12 {
		t.Errorf("Verify = %d, %v", p, err)
	}
	if _, err := l.Verify(u.Path, u.Query(), now.Add(time.Hour)); !errors.Is(err, ErrLinkExpired) {
		t.Errorf("expired: %v", err)
	}
	if _, err := l.Verify("/t/38", u.Query(), now); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("another ticket: %v", err)
	}
	sig := u.Query().Get("sig")
	parts := strings.Split(sig, ".")
	for name, forged := range map[string]string{
		"other person": parts[0] + ".13." + parts[2],
		"later expiry": "9999999999." + parts[1] + "." + parts[2],
		"flipped mac":  parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"missing":      "",
		"no mac":       parts[0] + "." + parts[1],
		"other secret": func() string {
			u, _ := url.Parse((&Links{Secret: []byte("x")}).TicketURL(37, 12, now))
			return u.Query().Get("sig")
		}(),
		"negative person": parts[0] + ".-12." + parts[2],
	} {
		if _, err := l.Verify(u.Path, url.Values{"sig": {forged}}, now); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("%s: %v, want ErrLinkInvalid", name, err)
		}
	}
	if _, err := (&Links{}).Verify(u.Path, u.Query(), now); err == nil {
		t.Error("a Links without a secret verified a link")
	}
	d, _ := url.Parse(l.DigestURL("2026-12-01", 3, now))
	if p, err := l.Verify("/d/2026-12-01", d.Query(), now); err != nil || p != 3 || d.Path != "/d/2026-12-01" {
		t.Errorf("digest link %s: %d, %v", d, p, err)
	}
	if string(DeriveLinkSecret("a", "bc")) == string(DeriveLinkSecret("ab", "c")) {
		t.Error("DeriveLinkSecret is ambiguous")
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}
