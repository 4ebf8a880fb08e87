package main

import (
	"strings"

	"github.com/hotlinebot/hotlinebot"
	"github.com/spf13/cobra"
)

func (a *app) followupCommand() *cobra.Command {
	var result, note string
	c := &cobra.Command{
		Use:   "followup REF --result satisfied|basic|unsatisfied [--note T]",
		Short: "记录回访结果（不满意则工单返回原单位重办）",
		Long: `记录对来电人的回访。--result：satisfied（满意）、basic（基本满意）或 unsatisfied（不满意），也可写中文。
满意、基本满意：工单结案。不满意：工单返回原单位重新办理，重新计算办理时限，并通知承办人。`,
		Example: "  hotlinebot followup 37 --result 满意\n  hotlinebot followup 37 --result unsatisfied --note 来电人反映问题未解决",
		Args:    exactArgs("REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := need(cmd, "result"); err != nil {
				return err
			}
			r, err := hotlinebot.ParseFollowUpResult(strings.TrimSpace(result))
			if err != nil {
				return usageError{hotlinebot.ErrorMessage(err)}
			}
			return a.act(cmd, args[0], hotlinebot.Command{Action: hotlinebot.ActionFollowUp, Result: r, Note: note})
		},
	}
	c.Flags().StringVar(&result, "result", "", "回访结果：satisfied、basic 或 unsatisfied（满意/基本满意/不满意，必填）")
	c.Flags().StringVar(&note, "note", "", "回访记录")
	return c
}
