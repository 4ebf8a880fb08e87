package bot

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/silenceper/wechat/v2/officialaccount/basic"
)

// MaxQRExpiry is the longest WeChat keeps a temporary QR code.
const MaxQRExpiry = 30 * 24 * time.Hour

// ShowQRCodeURL is where WeChat serves a QR code's image by ticket.
const ShowQRCodeURL = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="

// BindQR creates a temporary QR_STR_SCENE code for scene (e.g. "bind:<code>",
// at most 64 characters) valid for expires (at most 30 days) and returns the
// URL of its image. Scanning it sends a subscribe event with EventKey
// "qrscene_<scene>" (new follower) or a SCAN event with EventKey "<scene>".
func (wc *WeChat) BindQR(ctx context.Context, scene string, expires time.Duration) (qrURL string, err error) {
	if scene == "" || len(scene) > 64 {
		return "", hotlinebot.Errorf(hotlinebot.EINVALID, "二维码场景值应为 1 到 64 个字符")
	}
	if expires <= 0 || expires > MaxQRExpiry {
		expires = MaxQRExpiry
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	// A string scene: the SDK's integer branch asserts scene.(int) and
	// panics on anything else. The request goes through postJSON rather than
	// Basic.GetQRTicket, whose errors are strings: a rejected token is
	// fetched again, and the errcode stays typed.
	req := basic.NewTmpQrRequest(expires, scene)
	var t basic.Ticket
	if _, err := wc.postJSON(ctx, "qrcode create", "/cgi-bin/qrcode/create", req, &t); err != nil {
		return "", fmt.Errorf("wechat qrcode create: %w", err)
	}
	if t.Ticket == "" {
		return "", fmt.Errorf("wechat qrcode create: no ticket in the answer")
	}
	// basic.ShowQRCode does not escape the ticket, which has + / = in it.
	return ShowQRCodeURL + url.QueryEscape(t.Ticket), nil
}
