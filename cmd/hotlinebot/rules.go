package main

import (
	"io"
	"os"
	"strconv"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/spf13/cobra"
)

func (a *app) rulesCommand() *cobra.Command {
	return group("rules", "路由规则：工单自动分派到哪个单位",
		a.rulesImportCommand(), a.rulesExportCommand(), a.rulesTestCommand())
}

// rulesVersionJSON is a saved version of the rules as -o json shows it.
type rulesVersionJSON struct {
	Version   int     `json:"version"`
	Rules     int     `json:"rules"`
	Default   string  `json:"default"`
	CreatedBy string  `json:"created_by"`
	CreatedAt *string `json:"created_at"`
	Text      string  `json:"text"`
}

// changedBy names who changed something from the command line, for the
// rules' version history.
func (a *app) changedBy() string {
	if u := a.getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

func (a *app) rulesImportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "导入路由规则文件（TOML），作为新版本生效",
		Long: `导入路由规则文件（TOML，格式见 README「路由规则」），作为新版本立即生效；FILE 为 - 时从标准输入读取。
文件有任何错误（无法解析、缺少 [default]、单位不存在、正则表达式有误）都整体拒绝，原规则继续生效。`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var text []byte
			var err error
			if args[0] == "-" {
				text, err = io.ReadAll(a.stdin)
			} else {
				text, err = os.ReadFile(args[0])
			}
			if err != nil {
				return hotlinebot.Errorf(hotlinebot.EINVALID, "无法读取规则文件 %s：%v", args[0], unwrapPath(err))
			}
			st, cfg, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			v, err := st.ReplaceRules(cmd.Context(), string(text), a.changedBy(), a.now())
			if err != nil {
				return err
			}
			rs, _, err := st.Rules(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				return a.printJSON(rulesVersionView(rs, v, cfg))
			}
			a.printf("路由规则第 %d 版已生效：%d 条规则，%s。\n", v.Version, len(rs.Rules), defaultText(rs.Default))
			return nil
		},
	}
}

// rulesVersionView is a rules version as `rules import` and `rules export`
// print it with -o json.
func rulesVersionView(rs hotlinebot.RuleSet, v storage.RuleVersion, cfg *Config) rulesVersionJSON {
	return rulesVersionJSON{
		Version: v.Version, Rules: len(rs.Rules), Default: rs.Default, CreatedBy: v.CreatedBy,
		CreatedAt: timeJSON(v.CreatedAt, cfg), Text: v.Text,
	}
}

func defaultText(dept string) string {
	if dept == "" {
		return "未匹配的工单待热线办分派"
	}
	return "未匹配的工单派往 " + dept
}

func (a *app) rulesExportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "输出生效中的路由规则文件",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, cfg, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			rs, v, err := st.Rules(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOutput() {
				return a.printJSON(rulesVersionView(rs, v, cfg))
			}
			if v.Version == 0 {
				a.printf("# 还没有导入过路由规则：所有工单待热线办分派。\n[default]\ndepartment = \"\"\n")
				return nil
			}
			_, err = io.WriteString(a.stdout, v.Text)
			return err
		},
	}
}

// ruleTestJSON is `rules test -o json`, as POST /api/v1/rules/test answers.
type ruleTestJSON struct {
	Rule       *string `json:"rule"`
	Department *string `json:"department"` // null: the ticket would wait in pending
}

func (a *app) rulesTestCommand() *cobra.Command {
	var in hotlinebot.RuleInput
	c := &cobra.Command{
		Use:     "test [--category X] [--area Y] [--title T] [--content C]",
		Short:   "试一试：这样的工单会被哪条规则派往哪个单位（不保存任何内容）",
		Example: "  hotlinebot rules test --area 龙山管理处 --category 市容市貌 --title 占道经营 --content 门口有游商摆摊",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, _, err := a.db(cmd.Context())
			if err != nil {
				return err
			}
			rs, v, err := st.Rules(cmd.Context())
			if err != nil {
				return err
			}
			rule, dept := rs.Match(in)
			if a.jsonOutput() {
				var out ruleTestJSON
				if dept != "" {
					out.Department = &dept
				}
				if rule != nil {
					out.Rule = &rule.Name
				}
				return a.printJSON(out)
			}
			name := dept
			if dept != "" {
				if d, err := st.Department(cmd.Context(), dept); err == nil {
					name = d.Name + "（" + d.Code + "）"
				}
			}
			switch {
			case rule != nil:
				a.printf("匹配规则「%s」，派往 %s。\n", rule.Name, name)
			case dept != "":
				a.printf("没有匹配的规则，按 [default] 派往 %s。\n", name)
			default:
				a.printf("没有匹配的规则，工单待热线办分派。\n")
			}
			if v.Version > 0 {
				a.printf("（路由规则第 %s 版）\n", strconv.Itoa(v.Version))
			}
			return nil
		},
	}
	c.Flags().StringVar(&in.Category, "category", "", "诉求类别")
	c.Flags().StringVar(&in.Area, "area", "", "区域")
	c.Flags().StringVar(&in.Title, "title", "", "标题")
	c.Flags().StringVar(&in.Content, "content", "", "诉求内容")
	return c
}
