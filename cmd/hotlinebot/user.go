package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/bot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/spf13/cobra"
)

func (a *app) userCommand() *cobra.Command {
	return group("user", "人员：承办人、领导、热线办",
		a.userAddCommand(), a.userListCommand(), a.userDisableCommand(), a.userMoveCommand(),
		a.userUnbindCommand(), a.userBindCodeCommand())
}

func (a *app) userAddCommand() *cobra.Command {
	var p hotlinebot.Person
	var role string
	c := &cobra.Command{
		Use:   "add --name N --role handler|leader|office [--dept C] [--phone P]",
		Short: "添加人员",
		Long: `添加一名人员。角色：handler（承办人，必须属于一个单位）、leader（领导：有 --dept 是单位领导，
没有 --dept 是区领导）、office（热线办）。添加后用 hotlinebot user bind-code 生成绑定码，本人在公众号绑定。`,
		Example: "  hotlinebot user add --name 李娜 --role handler --dept longshan --phone 13800000000",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := need(cmd, "name", "role"); err != nil {
				return err
			}
			r, err := hotlinebot.ParseRole(strings.TrimSpace(role))
			if err != nil {
				return usageError{hotlinebot.ErrorMessage(err)}
			}
			p.Role = r
			st, cfg, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			created, err := st.CreatePerson(cmd.Context(), p, a.now())
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				return a.printJSON(hotlinebot.PersonView(created, cfg.Location()))
			}
			a.printf("已添加 %s（编号 %d，%s）。绑定微信：hotlinebot user bind-code %d\n", created.Name, created.ID, roleText(created), created.ID)
			return nil
		},
	}
	c.Flags().StringVar(&p.Name, "name", "", "姓名（必填）")
	c.Flags().StringVar(&role, "role", "", "角色：handler、leader 或 office（必填）")
	c.Flags().StringVar(&p.Department, "dept", "", "所在单位的代码或名称")
	c.Flags().StringVar(&p.Phone, "phone", "", "手机号")
	return c
}

// roleText is a person's role and department as people say it: 承办人（longshan）, 区领导.
func roleText(p hotlinebot.Person) string {
	switch {
	case p.DistrictLeader():
		return "区领导"
	case p.Department != "":
		return p.Role.Chinese() + "，" + p.Department
	}
	return p.Role.Chinese()
}

func (a *app) userListCommand() *cobra.Command {
	var f storage.PeopleFilter
	var role string
	c := &cobra.Command{
		Use:   "list [--dept C] [--role R]",
		Short: "列出人员",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if role != "" {
				r, err := hotlinebot.ParseRole(role)
				if err != nil {
					return usageError{hotlinebot.ErrorMessage(err)}
				}
				f.Role = r
			}
			st, cfg, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			if f.Department != "" {
				// A department that does not exist is said so, as ticket list does, not listed as empty.
				d, err := st.Department(cmd.Context(), f.Department)
				if err != nil {
					return err
				}
				f.Department = d.Code
			}
			people, err := fetchAll(0, func(after int64, n int) ([]hotlinebot.Person, error) {
				page := f
				page.After, page.Limit = after, n
				return st.ListPeople(cmd.Context(), page)
			}, func(p hotlinebot.Person) int64 { return p.ID })
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				out := make([]hotlinebot.PersonJSON, 0, len(people))
				for _, p := range people {
					out = append(out, hotlinebot.PersonView(p, cfg.Location()))
				}
				return a.printJSON(out)
			}
			if len(people) == 0 {
				a.printf("没有人员。\n")
				return nil
			}
			var t table
			t.add("编号", "姓名", "角色", "单位", "手机号", "微信")
			for _, p := range people {
				dept := p.Department
				if dept == "" {
					dept = "-"
				}
				role := p.Role.Chinese()
				if p.DistrictLeader() {
					role = "区领导"
				}
				t.add(strconv.FormatInt(p.ID, 10), p.Name, role, dept, orDash(p.Phone), bindText(p))
			}
			return t.write(a.stdout)
		},
	}
	c.Flags().StringVar(&f.Department, "dept", "", "只列这个单位（代码或名称）")
	c.Flags().StringVar(&role, "role", "", "只列这个角色：handler、leader 或 office")
	return c
}

func bindText(p hotlinebot.Person) string {
	switch {
	case p.Disabled:
		return "已停用"
	case p.OpenID == "":
		return "未绑定"
	case !p.Reachable:
		return "已取消关注"
	}
	return "已绑定"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// personID reads a person's number from the command line.
func personID(arg string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(arg), "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("人员编号 %q 无效：应为 hotlinebot user list 中的编号", arg)
	}
	return id, nil
}

// personChange is the shape of disable, move and unbind: act on person ID,
// then say what happened.
func (a *app) personChange(use, short, long, done string, flags func(*cobra.Command), change func(cmd *cobra.Command, st *storage.Store, id int64) error) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := personID(args[0])
			if err != nil {
				return err
			}
			st, cfg, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			if err := change(cmd, st, id); err != nil {
				return err
			}
			p, err := st.Person(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				return a.printJSON(hotlinebot.PersonView(p, cfg.Location()))
			}
			a.printf("%s（编号 %d）%s。\n", p.Name, p.ID, done)
			return nil
		},
	}
	if flags != nil {
		flags(c)
	}
	return c
}

func (a *app) userDisableCommand() *cobra.Command {
	return a.personChange("disable ID", "停用人员（离职）",
		"停用一名人员：不再收到推送、不能再办理；他名下未办结的工单退回所在单位待签收，并通知单位承办人。",
		"已停用，名下未办结的工单已退回单位", nil,
		func(cmd *cobra.Command, st *storage.Store, id int64) error {
			return st.DisablePerson(cmd.Context(), id, actor(), a.now())
		})
}

func (a *app) userMoveCommand() *cobra.Command {
	var dept string
	return a.personChange("move ID --dept C", "调动人员到另一个单位",
		"把人员调到另一个单位；他名下未办结的工单退回原单位待签收。",
		"已调动，名下未办结的工单已退回原单位",
		func(c *cobra.Command) {
			c.Flags().StringVar(&dept, "dept", "", "调往的单位代码或名称（必填）")
		},
		func(cmd *cobra.Command, st *storage.Store, id int64) error {
			if err := need(cmd, "dept"); err != nil {
				return err
			}
			return st.MovePerson(cmd.Context(), id, dept, actor(), a.now())
		})
}

func (a *app) userUnbindCommand() *cobra.Command {
	return a.personChange("unbind ID", "解除微信绑定（换手机、换微信号）",
		"解除人员的微信绑定；他名下未办结的工单退回所在单位待签收。之后用 user bind-code 重新绑定。",
		"已解除微信绑定", nil,
		func(cmd *cobra.Command, st *storage.Store, id int64) error {
			return st.UnbindPerson(cmd.Context(), id, actor(), a.now())
		})
}

// bindCodeJSON is `user bind-code -o json`: the API's shape, with the person.
type bindCodeJSON struct {
	Person    int64  `json:"person"`
	Code      string `json:"code"`
	ExpiresAt string `json:"expires_at"`
	QRScene   string `json:"qr_scene"`
	QRURL     string `json:"qr_url"` // "" when WeChat is not configured or could not make it
}

// bindQR asks WeChat for the bind QR code of scene when the config has the
// WeChat credentials, as serve does for POST /api/v1/users/{id}/bind-code
// (the access token is shared through the database); "" when it cannot.
func (a *app) bindQR(ctx context.Context, st *storage.Store, cfg *Config, scene string, expires time.Time) string {
	w := cfg.WeChat
	if w.AppID == "" || w.AppSecret == "" || w.Token == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	wc, err := bot.NewWeChat(bot.WeChatConfig{
		AppID: w.AppID, AppSecret: w.AppSecret, Token: w.Token, EncodingAESKey: w.EncodingAESKey,
		APIBaseURL: w.APIBaseURL, Cache: st.TokenCache(a.now),
		Logger: slog.New(bot.RedactingHandler(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	})
	var u string
	if err == nil {
		u, err = wc.BindQR(ctx, scene, expires.Sub(a.now()))
	}
	if err != nil {
		// The code stands without its QR code: the person can still send it.
		fmt.Fprintln(a.stderr, "hotlinebot: 微信未能生成绑定二维码，请让本人在公众号中发送绑定码")
		return ""
	}
	return u
}

func (a *app) userBindCodeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "bind-code ID",
		Short: "生成一次性绑定码（7 天内有效）",
		Long: `为人员生成一次性绑定码，7 天内有效；之前未用的绑定码随即作废。本人在公众号里发送「绑定 <绑定码>」即完成绑定。

配置了微信公众号（wechat.app_id、app_secret、token）时，同时向微信申请绑定二维码（场景值 bind:<绑定码>），
输出二维码图片的链接，本人用微信扫码即可绑定；申请不成也不影响绑定码。`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := personID(args[0])
			if err != nil {
				return err
			}
			st, cfg, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			bc, err := st.IssueBindCode(cmd.Context(), id, a.now())
			if err != nil {
				return err
			}
			qr := a.bindQR(cmd.Context(), st, cfg, bc.Scene, bc.ExpiresAt)
			if a.jsonOutput() {
				return a.printJSON(bindCodeJSON{
					Person: bc.PersonID, Code: bc.Code, QRScene: bc.Scene, QRURL: qr,
					ExpiresAt: bc.ExpiresAt.In(cfg.Location()).Format(time.RFC3339),
				})
			}
			a.printf("绑定码：%s（有效至 %s，只能使用一次）\n", bc.Code, a.timeText(bc.ExpiresAt))
			a.printf("请本人在公众号中发送：绑定 %s\n", bc.Code)
			if qr != "" {
				a.printf("或用微信扫描绑定二维码：%s\n", qr)
			} else if w := cfg.WeChat; w.AppID == "" || w.AppSecret == "" || w.Token == "" {
				a.printf("二维码场景值：%s（配置了微信公众号时，这里会给出二维码图片的链接）\n", bc.Scene)
			}
			return nil
		},
	}
}
