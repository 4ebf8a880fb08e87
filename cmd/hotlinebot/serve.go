package main

import (
	"github.com/hotlinebot/hotlinebot"
	"github.com/spf13/cobra"
)

// serveCommand is a placeholder so the binary builds; the lead's serve.go
// replaces this file (HTTP server, bot, scheduler and dispatcher wiring).
func (a *app) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve [--no-migrate] [--sandbox]",
		Short: "运行服务：微信回调、HTTP 接口、提醒督办与推送",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return hotlinebot.Errorf(hotlinebot.EUNAVAILABLE, "serve 尚未实现")
		},
	}
}
