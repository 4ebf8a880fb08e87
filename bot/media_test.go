package bot

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
)

func TestFetchMedia(t *testing.T) {
	p := newPlumbing(t)
	ctx := context.Background()
	jpeg := append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte{1}, 1000)...)
	p.sim.AddMedia("photo-1", jpeg, "image/jpeg")
	data, ct, err := p.wc.FetchMedia(ctx, "photo-1")
	if err != nil || !bytes.Equal(data, jpeg) || ct != "image/jpeg" {
		t.Fatalf("FetchMedia = %d bytes, %q, %v", len(data), ct, err)
	}

	// Exactly the limit is kept; one byte more is refused.
	p.sim.AddMedia("max", bytes.Repeat([]byte{'x'}, MaxMediaBytes), "image/png")
	if data, _, err := p.wc.FetchMedia(ctx, "max"); err != nil || len(data) != MaxMediaBytes {
		t.Errorf("2 MB image: %d bytes, %v", len(data), err)
	}
	p.sim.AddMedia("big", bytes.Repeat([]byte{'x'}, MaxMediaBytes+1), "image/png")
	if _, _, err := p.wc.FetchMedia(ctx, "big"); !errors.Is(err, ErrMediaTooLarge) {
		t.Errorf("over 2 MB: %v, want ErrMediaTooLarge", err)
	}

	_, _, err = p.wc.FetchMedia(ctx, "expired")
	if ErrCode(err) != 40007 {
		t.Errorf("unknown media: %v, want errcode 40007", err)
	}

	// A rejected token is fetched again once.
	p.sim.ExpireTokens()
	if _, _, err := p.wc.FetchMedia(ctx, "photo-1"); err != nil {
		t.Errorf("after a token rotation: %v", err)
	}
}

func TestBindQR(t *testing.T) {
	p := newPlumbing(t)
	got, err := p.wc.BindQR(context.Background(), "bind:K7Q2M9", 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	qrs := p.sim.QRCodes()
	if len(qrs) != 1 {
		t.Fatalf("%d QR codes created", len(qrs))
	}
	q := qrs[0]
	if q.ActionName != "QR_STR_SCENE" || q.SceneStr != "bind:K7Q2M9" || q.ExpireSeconds != 7*24*3600 {
		t.Errorf("created %+v", q)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	// The ticket has + / = in it: only an escaped URL gives it back intact.
	if !strings.HasPrefix(got, ShowQRCodeURL) || u.Query().Get("ticket") != q.Ticket {
		t.Errorf("QR URL %s does not carry ticket %s", got, q.Ticket)
	}
	if _, err := p.wc.BindQR(context.Background(), strings.Repeat("x", 65), time.Hour); err == nil {
		t.Error("a 65-character scene was accepted")
	}
	p.sim.FailNext(wechatsim.PathQRCreate, 45009, 1)
	if _, err := p.wc.BindQR(context.Background(), "bind:x", time.Hour); ErrCode(err) != 45009 {
		t.Errorf("a refused QR code: %v, want errcode 45009", err)
	}
	p.sim.ExpireTokens()
	if _, err := p.wc.BindQR(context.Background(), "bind:y", time.Hour); err != nil {
		t.Errorf("after a token rotation: %v", err)
	}
}
