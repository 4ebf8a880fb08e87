package storage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

func TestParseRules(t *testing.T) {
	rs, err := storage.ParseRules(testRules)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Rules) != 2 || rs.Default != "" || rs.Rules[0].Name != "龙山片区" || rs.Rules[0].Area[0] != "龙山管理处" ||
		rs.Rules[1].Urgency != hotlinebot.UrgencyUrgent || rs.Rules[1].Keywords[0] != "燃气" {
		t.Fatalf("parsed %+v", rs)
	}
	rule, dept := rs.Match(hotlinebot.RuleInput{Title: "燃气味道很重"})
	if rule == nil || rule.Name != "南湖燃气" || dept != "nanhu" {
		t.Fatalf("Match = %v, %q", rule, dept)
	}

	for _, c := range []struct {
		name, text string
		mentions   []string
	}{
		{"syntax error names the line", "[[rule]]\nname = \"a\"\ndepartment = longshan\n[default]\n", []string{"第 3 行"}},
		{"unclosed table names its own line", "[[rule]]\nname = \"a\"\ndepartment = \"x\"\n\n[default\ndepartment = \"\"\n", []string{"第 5 行"}},
		{"unclosed string names its own line", "[[rule]]\nname = \"a\ndepartment = \"x\"\n[default]\ndepartment = \"\"\n", []string{"第 2 行"}},
		{"unknown key names the line and key", "[[rule]]\nname = \"a\"\ndepartment = \"x\"\nkeyword = [\"占道\"]\n[default]\ndepartment = \"\"\n", []string{"第 4 行", "keyword"}},
		{"unknown table", "[default]\ndepartment = \"\"\n[extra]\nx = 1\n", []string{"第 3 行", "extra"}},
		{"wrong type names the line", "[[rule]]\nname = \"a\"\ndepartment = \"x\"\narea = \"龙山\"\n[default]\ndepartment = \"\"\n", []string{"第 4 行"}},
		{"default required", "[[rule]]\nname = \"a\"\ndepartment = \"x\"\n", []string{"[default]"}},
		{"bad pattern names the rule", "[[rule]]\nname = \"坏规则\"\ndepartment = \"x\"\npattern = \"(游商\"\n[default]\ndepartment = \"\"\n", []string{"第 1 条规则", "坏规则", "pattern"}},
		{"rule without a department", "[[rule]]\nname = \"a\"\n[default]\ndepartment = \"\"\n", []string{"第 1 条规则", "department"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := storage.ParseRules(c.text)
			wantCode(t, err, hotlinebot.EINVALID, c.mentions...)
		})
	}
}

func TestReplaceRulesKeepsVersions(t *testing.T) {
	f := newFixture(t)
	s := f.s
	rs, v, err := s.Rules(ctx)
	if err != nil || v.Version != 0 || len(rs.Rules) != 0 || rs.Default != "" {
		t.Fatalf("before any import: %+v %+v %v", rs, v, err)
	}
	v1, err := s.ReplaceRules(ctx, testRules, "钱办事员", t0)
	if err != nil || v1.Version != 1 || v1.CreatedBy != "钱办事员" || !v1.CreatedAt.Equal(t0) {
		t.Fatalf("v1 = %+v, %v", v1, err)
	}

	// An unknown department refuses the file whole; version 1 stays.
	bad := strings.Replace(testRules, `department = "nanhu"`, `department = "xihu"`, 1)
	_, err = s.ReplaceRules(ctx, bad, "钱办事员", t0.Add(time.Minute))
	wantCode(t, err, hotlinebot.EINVALID, "xihu", "南湖燃气")
	_, err = s.ReplaceRules(ctx, "[default]\ndepartment = \"xihu\"\n", "钱办事员", t0.Add(time.Minute))
	wantCode(t, err, hotlinebot.EINVALID, "xihu")
	_, err = s.ReplaceRules(ctx, "not toml", "钱办事员", t0.Add(time.Minute))
	wantCode(t, err, hotlinebot.EINVALID, "第 1 行")
	if _, v, _ := s.Rules(ctx); v.Version != 1 {
		t.Fatalf("in force after refusals: v%d", v.Version)
	}

	v2text := "[default]\ndepartment = \"longshan\"\n"
	v2, err := s.ReplaceRules(ctx, v2text, "李主任", t0.Add(time.Hour))
	if err != nil || v2.Version != 2 {
		t.Fatalf("v2 = %+v, %v", v2, err)
	}
	rs, v, err = s.Rules(ctx)
	if err != nil || v.Version != 2 || v.Text != v2text || v.CreatedBy != "李主任" || rs.Default != "longshan" || len(rs.Rules) != 0 {
		t.Fatalf("in force: %+v %+v %v", rs, v, err)
	}
	vs, err := s.RuleVersions(ctx)
	if err != nil || len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 || vs[1].Text != testRules {
		t.Fatalf("versions = %+v, %v", vs, err)
	}
	// New tickets follow the rules in force: everything to longshan now.
	tk := f.create(t, storage.NewTicket{ExternalID: "V-1", Title: "燃气"})
	if tk.Department != "longshan" || tk.Rule != "" {
		t.Fatalf("ticket under v2 = %+v", tk)
	}
}
