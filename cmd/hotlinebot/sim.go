package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/spf13/cobra"
)

func (a *app) simCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "sim",
		Short: "本地演示（serve --sandbox）的模拟微信用户",
	}
	c.AddCommand(a.simSayCommand())
	return c
}

func (a *app) simSayCommand() *cobra.Command {
	var user string
	c := &cobra.Command{
		Use:   "say --user ID TEXT",
		Short: "以某人的身份，经签名回调向本机 serve --sandbox 发送一条微信消息，并打印回复",
		Long: `以人员 ID 的身份向本机运行的 serve --sandbox 发送一条文字消息（经过真实的签名回调 /wechat），
并打印公众号的被动回复。此人尚未绑定微信时，先用一次性绑定码替他绑定（也经过回调）。
由此引起的推送打印在 serve 的控制台上。`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(strings.TrimSpace(user), 10, 64)
			if err != nil || id <= 0 {
				return usagef("--user 应为人员 ID（见 hotlinebot user list）")
			}
			return a.simSay(cmd, id, strings.Join(args, " "))
		},
	}
	c.Flags().StringVar(&user, "user", "", "人员 ID（必填）")
	_ = c.MarkFlagRequired("user")
	return c
}

// simSay sends text as person id through the sandbox's signed callback.
func (a *app) simSay(cmd *cobra.Command, id int64, text string) error {
	ctx := cmd.Context()
	store, cfg, err := a.db(ctx)
	if err != nil {
		return err
	}
	p, err := store.Person(ctx, id)
	if err != nil {
		return err
	}
	if p.Disabled {
		return hotlinebot.Errorf(hotlinebot.ECONFLICT, "%s 已停用", p.Name)
	}
	creds := sandboxCredentials(cfg.WeChat)
	endpoint := callbackURL(cfg.Server.Listen)
	say := func(openid, text string) (string, error) {
		u := wechatsim.NewUser(endpoint, openid, wechatsim.UserConfig{
			AppID: creds.AppID, Token: creds.Token, EncodingAESKey: creds.EncodingAESKey,
			Safe: creds.EncodingAESKey != "",
		})
		reply, status, err := u.Say(text)
		switch {
		case err != nil:
			return "", hotlinebot.Errorf(hotlinebot.EUNAVAILABLE, "无法连接 %s：%v（先运行 make run 或 hotlinebot serve --sandbox）", endpoint, err)
		case status == 403:
			return "", hotlinebot.Errorf(hotlinebot.EFORBIDDEN, "%s 拒绝了签名：服务不是以 --sandbox 运行，或与本命令用的不是同一份配置", endpoint)
		case status != 200:
			return "", hotlinebot.Errorf(hotlinebot.EUNAVAILABLE, "%s 答复 HTTP %d", endpoint, status)
		}
		return reply, nil
	}

	openid := p.OpenID
	if openid == "" {
		code, err := store.IssueBindCode(ctx, p.ID, a.now())
		if err != nil {
			return err
		}
		openid = sandboxOpenIDPrefix + strconv.FormatInt(p.ID, 10)
		reply, err := say(openid, "绑定 "+code.Code)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "（%s 尚未绑定微信，已代为发送「绑定 ******」）\n%s\n\n", p.Name, reply)
	}
	last, err := lastPushID(ctx, store)
	if err != nil {
		return err
	}
	reply, err := say(openid, text)
	if err != nil {
		return err
	}
	pushes := newPushes(ctx, store, last, 3*time.Second)
	if a.jsonOutput() {
		if pushes == nil {
			pushes = []storage.PushRow{}
		}
		return a.printJSON(map[string]any{"person": p.ID, "text": text, "reply": reply, "pushes": pushes})
	}
	fmt.Fprintf(a.stdout, "%s：%s\n公众号：%s\n", p.Name, text, reply)
	for _, r := range pushes {
		fmt.Fprintf(a.stdout, "→ 推送（%s）给 %s %s：%s\n", r.Kind, r.PersonName, r.TicketRef, pushStatusChinese[r.Status])
	}
	if len(pushes) > 0 {
		fmt.Fprintln(a.stdout, "（推送内容见 serve 的控制台）")
	}
	return nil
}

// lastPushID is the newest outbox row's id (0 when there is none).
func lastPushID(ctx context.Context, store *storage.Store) (int64, error) {
	rows, err := fetchAll(0, func(after int64, n int) ([]storage.PushRow, error) {
		return store.ListPushes(ctx, "all", after, n)
	}, func(r storage.PushRow) int64 { return r.ID })
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	return rows[len(rows)-1].ID, nil
}

// newPushes waits up to wait for the pushes queued after row `after` to
// leave (the dispatcher sends within 2 s), and returns them.
func newPushes(ctx context.Context, store *storage.Store, after int64, wait time.Duration) []storage.PushRow {
	deadline := time.Now().Add(wait)
	for {
		rows, err := store.ListPushes(ctx, "all", after, 1000)
		if err != nil {
			return nil
		}
		settled := true
		for _, r := range rows {
			if r.Status == storage.PushPending || r.Status == storage.PushSending {
				settled = false
			}
		}
		if settled || time.Now().After(deadline) {
			return rows
		}
		select {
		case <-ctx.Done():
			return rows
		case <-time.After(200 * time.Millisecond):
		}
	}
}
