package main

import (
	"strings"

	"github.com/hotlinebot/hotlinebot"
	"github.com/spf13/cobra"
)

func (a *app) deptCommand() *cobra.Command {
	return group("dept", "单位（承办单位）", a.deptAddCommand(), a.deptListCommand())
}

func (a *app) deptAddCommand() *cobra.Command {
	var code, name string
	c := &cobra.Command{
		Use:     "add --code C --name N",
		Short:   "添加单位",
		Example: "  hotlinebot dept add --code longshan --name 龙山管理处",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := need(cmd, "code", "name"); err != nil {
				return err
			}
			st, _, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			d, err := st.CreateDepartment(cmd.Context(), hotlinebot.Department{Code: strings.TrimSpace(code), Name: strings.TrimSpace(name)})
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				return a.printJSON(hotlinebot.DepartmentView(d))
			}
			a.printf("已添加单位 %s（%s）。\n", d.Name, d.Code)
			return nil
		},
	}
	c.Flags().StringVar(&code, "code", "", "单位代码，用于路由规则和命令（必填，如 longshan）")
	c.Flags().StringVar(&name, "name", "", "单位名称（必填，如 龙山管理处）")
	return c
}

func (a *app) deptListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "列出单位",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, _, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			depts, err := st.ListDepartments(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				out := make([]hotlinebot.DepartmentJSON, 0, len(depts))
				for _, d := range depts {
					out = append(out, hotlinebot.DepartmentView(d))
				}
				return a.printJSON(out)
			}
			if len(depts) == 0 {
				a.printf("还没有单位：用 hotlinebot dept add 添加。\n")
				return nil
			}
			var t table
			t.add("代码", "名称")
			for _, d := range depts {
				t.add(d.Code, d.Name)
			}
			return t.write(a.stdout)
		},
	}
}
