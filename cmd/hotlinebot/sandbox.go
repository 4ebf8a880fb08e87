package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
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

// templates registers the configured templates with the simulator (which,
// like WeChat, refuses template ids it does not know) and fills in one, with
// readable labels, for every kind the config has none for.
func (s *sandboxPlatform) templates(have map[hotlinebot.NotificationKind]bot.Template) map[hotlinebot.NotificationKind]bot.Template {
	out := make(map[hotlinebot.NotificationKind]bot.Template, len(hotlinebot.NotificationKinds))
	for k, t := range have {
		out[k] = t
		s.DefineTemplate(t.ID, bot.KindTitle(k), bot.FieldLabels(t))
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

// demoRules routes the demo tickets; the same departments as the district's
// own report.
const demoRules = `# 演示用的分派规则（serve --sandbox 在空数据库上写入）
[[rule]]
name = "龙山片区"
department = "longshan"
area = ["龙山管理处"]

[[rule]]
name = "南湖片区市容"
department = "nanhu"
area = ["南湖街道办事处"]
category = ["市容市貌"]

[[rule]]
name = "占道焚烧"
department = "chengguan"
keywords = ["占道", "焚烧"]

[default]
department = ""
`

// seedSandbox fills an empty database with a small district so a newcomer
// sees the bot work at once: departments, people already bound to sandbox
// openids (so pushes reach them), routing rules and two tickets. It does
// nothing when any department exists.
func seedSandbox(ctx context.Context, store *storage.Store, now time.Time, log *slog.Logger) error {
	depts, err := store.ListDepartments(ctx)
	if err != nil || len(depts) > 0 {
		return err
	}
	for _, d := range []hotlinebot.Department{
		{Code: "longshan", Name: "龙山管理处"},
		{Code: "nanhu", Name: "南湖街道办事处"},
		{Code: "qiusuo", Name: "求索街道办事处"},
		{Code: "chengguan", Name: "区城市管理局"},
		{Code: "jingqu", Name: "景区保护管理中心"},
	} {
		if _, err := store.CreateDepartment(ctx, d); err != nil {
			return err
		}
	}
	people := []hotlinebot.Person{
		{Name: "张三", Role: hotlinebot.RoleHandler, Department: "longshan", Phone: "13800000001"},
		{Name: "王五", Role: hotlinebot.RoleHandler, Department: "chengguan", Phone: "13800000002"},
		{Name: "赵六", Role: hotlinebot.RoleLeader, Department: "longshan", Phone: "13800000003"},
		{Name: "李四", Role: hotlinebot.RoleOffice, Phone: "13800000004"},
		{Name: "刘七", Role: hotlinebot.RoleLeader, Phone: "13800000005"},
	}
	for _, p := range people {
		p, err := store.CreatePerson(ctx, p, now)
		if err != nil {
			return err
		}
		code, err := store.IssueBindCode(ctx, p.ID, now)
		if err != nil {
			return err
		}
		if _, err := store.Bind(ctx, sandboxOpenIDPrefix+strconv.FormatInt(p.ID, 10), code.Code, now); err != nil {
			return err
		}
	}
	if _, err := store.ReplaceRules(ctx, demoRules, "sandbox", now); err != nil {
		return err
	}
	office := hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelAPI}
	for _, t := range []storage.NewTicket{
		{ExternalID: "DEMO-0001", Title: "郭镇村电杆被施工方弄断", Content: "来电人反映在郭镇村安装的变压器和电杆被施工方弄断，要求相关部门核实处理。",
			Category: "市容市貌", Area: "龙山管理处", CallerName: "张先生", CallerPhone: "13812340000"},
		{ExternalID: "DEMO-0002", Title: "小区门口游商占道经营", Content: "小区门口每天傍晚有游商占道经营，影响通行。",
			Category: "市容市貌", Area: "月山管理处", CallerName: "陈女士", CallerPhone: "13912340000"},
	} {
		if _, _, err := store.CreateTicket(ctx, t, office, now); err != nil {
			return err
		}
	}
	log.Info("sandbox: seeded a demo district (people 1–5, tickets #1 #2); try: hotlinebot sim say --user 1 待办")
	return nil
}
