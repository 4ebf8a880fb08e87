package main

import (
	"log/slog"

	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/spf13/cobra"
)

func (a *app) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "更新数据库结构（可重复运行；多个副本同时运行也安全）",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), cfg, storage.Options{Logger: a.logger(slog.LevelInfo)}, true)
			if err != nil {
				return err
			}
			a.store = st
			if a.jsonOutput() {
				return a.printJSON(map[string]bool{"migrated": true})
			}
			a.printf("数据库结构已是最新。\n")
			return nil
		},
	}
}
