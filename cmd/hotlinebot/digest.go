package main

import (
	"log/slog"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/spf13/cobra"
)

func (a *app) digestCommand() *cobra.Command {
	var date string
	c := &cobra.Command{
		Use:   "digest [--date D]",
		Short: "立即发送每日简报（推送排入队列后返回）",
		Long: `立即为每位领导和热线办人员排入某日的每日简报推送（默认今天），由运行中的 serve 发出。
同一人同一天只收到一次：已收到的人不会重复推送。`,
		Example: "  hotlinebot digest\n  hotlinebot digest --date 2026-12-01",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			store, cfg, err := a.db(ctx)
			if err != nil {
				return err
			}
			cal, err := cfg.Calendar()
			if err != nil {
				return err
			}
			var day time.Time
			if d := strings.TrimSpace(date); d != "" {
				day, err = time.ParseInLocation(time.DateOnly, d, cal.Location())
				if err != nil {
					return usagef("--date 应为日期，如 2026-12-01")
				}
			}
			sched, err := newScheduler(cfg, store, cal, a.logger(slog.LevelWarn), a.now, nil)
			if err != nil {
				return err
			}
			run, err := sched.Digest(ctx, day)
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				return a.printJSON(map[string]any{
					"date": run.Day.Format(time.DateOnly), "people": run.People, "queued": run.Queued,
				})
			}
			if run.People == 0 {
				a.printf("%s 的每日简报：没有已绑定微信的领导或热线办人员，未排入推送。\n", run.Day.Format(hotlinebot.LayoutDate))
				return nil
			}
			a.printf("%s 的每日简报：排入 %d 条推送（可接收的领导和热线办人员 %d 人；已收到的不再重复）。\n",
				run.Day.Format(hotlinebot.LayoutDate), run.Queued, run.People)
			return nil
		},
	}
	c.Flags().StringVar(&date, "date", "", "日期，如 2026-12-01（默认今天）")
	return c
}
