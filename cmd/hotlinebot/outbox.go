package main

import (
	"strconv"
	"strings"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/spf13/cobra"
)

func (a *app) outboxCommand() *cobra.Command {
	return group("outbox", "推送队列：待发、失败或无法确认的推送", a.outboxListCommand(), a.outboxRetryCommand())
}

var pushStatusChinese = map[storage.PushStatus]string{
	storage.PushPending:   "待发送",
	storage.PushSending:   "发送中",
	storage.PushSent:      "已发送",
	storage.PushDead:      "失败",
	storage.PushUncertain: "无法确认",
}

func (a *app) outboxListCommand() *cobra.Command {
	var status string
	var after int64
	var limit int
	c := &cobra.Command{
		Use:   "list [--status S]",
		Short: "列出推送（默认列出未发送成功的：待发送、发送中、失败、无法确认）",
		Long: `列出推送队列中的推送。--status 可为 pending（待发送）、sending（发送中）、sent（已发送）、
dead（失败：对方已取消关注、账号无效或模板有误，已通知热线办）、uncertain（发送中断且超过
微信的去重时限，可能已送达也可能没有，不会自动重发；确认对方未收到后用 outbox retry 重发）或 all。`,
		Example: "  hotlinebot outbox list\n  hotlinebot outbox list --status dead -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, cfg, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			rows, err := st.ListPushes(cmd.Context(), strings.TrimSpace(status), after, limit)
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				if rows == nil {
					rows = []storage.PushRow{}
				}
				return a.printJSON(rows)
			}
			if len(rows) == 0 {
				a.printf("没有符合条件的推送。\n")
				return nil
			}
			loc := cfg.Location()
			t := &table{}
			t.add("编号", "类型", "接收人", "工单", "状态", "尝试", "排入时间", "错误")
			for _, r := range rows {
				ref := r.TicketRef
				if ref == "" && r.DigestDate != "" {
					ref = r.DigestDate
				}
				t.add(strconv.FormatInt(r.ID, 10), string(r.Kind), r.PersonName, ref,
					pushStatusChinese[r.Status], strconv.Itoa(r.Attempts),
					r.CreatedAt.In(loc).Format(hotlinebot.LayoutMinute), oneLine(r.LastError))
			}
			return t.write(a.stdout)
		},
	}
	c.Flags().StringVar(&status, "status", "", "pending、sending、sent、dead、uncertain 或 all")
	c.Flags().Int64Var(&after, "after", 0, "只列编号大于此值的（翻页）")
	c.Flags().IntVar(&limit, "limit", 100, "最多列出多少条（至多 1000）")
	return c
}

func (a *app) outboxRetryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "retry ID",
		Short: "重发一条失败或无法确认的推送",
		Long: `重发一条失败（dead）或无法确认（uncertain）的推送：请先确认对方确实没有收到
（或已修正模板、对方已重新关注），否则可能重复推送。`,
		Example: "  hotlinebot outbox retry 42",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(strings.TrimSpace(args[0]), 10, 64)
			if err != nil || id <= 0 {
				return usagef("推送编号应为正整数：%q", args[0])
			}
			st, _, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			row, err := st.RetryPush(cmd.Context(), id, a.now())
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				return a.printJSON(row)
			}
			a.printf("推送 %d（%s，发给 %s）已重新排入队列，运行中的 serve 将立即发送。\n", row.ID, row.Kind, row.PersonName)
			return nil
		},
	}
}
