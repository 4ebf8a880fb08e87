package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/bot"
	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
	"github.com/hotlinebot/hotlinebot/storage"
)

// The sandbox's credentials when the config has none. They only ever meet
// the simulated WeChat on this machine; `sim say` signs with the same ones.
const (
	sandboxAppID  = "wxsandbox00000000"
	sandboxSecret = "sandbox-app-secret"
	sandboxToken  = "sandbox-token"
	// sandboxOpenIDPrefix + person id is the openid `sim say` binds a
	// person to when they have none yet.
	sandboxOpenIDPrefix = "sandbox-user-"
)

// sandboxCredentials are the WeChat credentials of `serve --sandbox`: the
// configured ones where set, else the sandbox's own.
func sandboxCredentials(w WeChatConfig) WeChatConfig {
	if w.AppID == "" {
		w.AppID = sandboxAppID
	}
	if w.AppSecret == "" {
		w.AppSecret = sandboxSecret
	}
	if w.Token == "" {
		w.Token = sandboxToken
	}
	return w
}

// sandboxPlatform is the simulated WeChat running inside `serve --sandbox`.
type sandboxPlatform struct {
	*wechatsim.Platform
	creds WeChatConfig
	srv   *http.Server
	url   string
}

func startSandbox(ctx context.Context, cfg *Config, store *storage.Store, out io.Writer, log *slog.Logger) (*sandboxPlatform, error) {
	creds := sandboxCredentials(cfg.WeChat)
	p := wechatsim.New(wechatsim.Options{
		AppID:          creds.AppID,
		AppSecret:      creds.AppSecret,
		Token:          creds.Token,
		EncodingAESKey: creds.EncodingAESKey,
		Out:            out,
		UserName: func(openid string) string {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if p, err := store.PersonByOpenID(ctx, openid); err == nil {
				return p.Name
			}
			return ""
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &sandboxPlatform{
		Platform: p,
		creds:    creds,
		srv:      &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second},
		url:      "http://" + ln.Addr().String(),
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("sandbox: the simulated WeChat stopped", "err", err)
		}
	}()
	return s, nil
}

// URL is where the simulated WeChat API listens.
func (s *sandboxPlatform) URL() string { return s.url }

// Close stops the simulated WeChat.
func (s *sandboxPlatform) Close() { _ = s.srv.Close() }

// config points the WeChat settings at the simulator.
func (s *sandboxPlatform) config(w WeChatConfig) WeChatConfig {
	w.AppID, w.AppSecret, w.Token, w.EncodingAESKey = s.creds.AppID, s.creds.AppSecret, s.creds.Token, s.creds.EncodingAESKey
	w.APIBaseURL = s.url
	return w
}

// templates fills in a template, and its readable labels in the simulator,
// for every kind the config has none for.
func (s *sandboxPlatform) templates(have map[hotlinebot.NotificationKind]bot.Template) map[hotlinebot.NotificationKind]bot.Template {
	out := make(map[hotlinebot.NotificationKind]bot.Template, len(hotlinebot.NotificationKinds))
	for k, t := range have {
		out[k] = t
	}
	for _, k := range hotlinebot.NotificationKinds {
		if _, ok := out[k]; ok {
			continue
		}
		title, fields, labels := sandboxTemplate(k)
		id := "sandbox_" + string(k)
		out[k] = bot.Template{ID: id, Fields: fields}
		s.DefineTemplate(id, title, labels)
	}
	return out
}

// sandboxTemplate is the sandbox's template for one kind: its title, the
// fields mapping and each key's label.
func sandboxTemplate(k hotlinebot.NotificationKind) (title string, fields, labels map[string]string) {
	titles := map[hotlinebot.NotificationKind]string{
		hotlinebot.NotifyAssigned:   "新工单提醒",
		hotlinebot.NotifyReminder:   "工单时限提醒",
		hotlinebot.NotifyOverdue:    "工单超期提醒",
		hotlinebot.NotifyEscalation: "工单督办提醒",
		hotlinebot.NotifyExtension:  "工单延期审批",
		hotlinebot.NotifyReturned:   "工单退回审核",
		hotlinebot.NotifyReopened:   "工单重办提醒",
		hotlinebot.NotifyDigest:     "每日工单简报",
		hotlinebot.NotifyNotice:     "系统通知",
	}
	switch k {
	case hotlinebot.NotifyDigest:
		return titles[k],
			map[string]string{"date1": "{{.Date}}", "number2": "{{.Count}}", "thing3": "{{.Note}}"},
			map[string]string{"date1": "日期", "number2": "待办工单", "thing3": "概况"}
	case hotlinebot.NotifyNotice:
		return titles[k],
			map[string]string{"character_string1": "{{.Ref}}", "thing2": "{{.Note}}"},
			map[string]string{"character_string1": "工单编号", "thing2": "通知内容"}
	}
	return titles[k],
		map[string]string{
			"character_string1": "{{.Ref}}", "thing2": "{{.Title}}", "thing3": "{{.Department}}",
			"time4": "{{.DueAt}}", "thing5": "{{.Note}}",
		},
		map[string]string{
			"character_string1": "工单编号", "thing2": "工单标题", "thing3": "承办单位",
			"time4": "办理时限", "thing5": "说明",
		}
}

// callbackURL is where a local `serve` takes WeChat callbacks.
func callbackURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen + "/wechat"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/wechat"
}
