package hotlinebot

import (
	"strings"
	"sync"
	"testing"
)

var knownDepartments = map[string]bool{"longshan": true, "nanhu": true, "cgj": true, "qiusuo": true}

func seedRules(t *testing.T) *RuleSet {
	t.Helper()
	rs := &RuleSet{
		Rules: []Rule{
			{Name: "龙山片区市容", Department: "longshan", Area: []string{"龙山管理处"}, Category: []string{"市容市貌", "房屋管理"}, Keywords: []string{"占道", "焚烧"}},
			{Name: "游商", Department: "cgj", Pattern: "(游商|摊贩)", Urgency: UrgencyUrgent},
			{Name: "南湖片区", Department: "nanhu", Area: []string{"南湖街道"}},
			{Name: "社保", Department: "qiusuo", Category: []string{"社会保障"}},
		},
		Default: "",
	}
	if err := rs.Validate(knownDepartments); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return rs
}

func TestMatch(t *testing.T) {
	rs := seedRules(t)
	tests := []struct {
		name     string
		in       RuleInput
		wantRule string
		wantDept string
	}{
		{"all conditions of the first rule", RuleInput{Area: "龙山管理处", Category: "市容市貌", Title: "路边占道经营"}, "龙山片区市容", "longshan"},
		{"keyword in the content", RuleInput{Area: "龙山管理处", Category: "房屋管理", Title: "投诉", Content: "有人焚烧垃圾"}, "龙山片区市容", "longshan"},
		{"area matches but no keyword", RuleInput{Area: "龙山管理处", Category: "市容市貌", Title: "路灯不亮"}, "", ""},
		{"keyword but wrong category", RuleInput{Area: "龙山管理处", Category: "社会保障", Title: "占道"}, "社保", "qiusuo"},
		{"first match wins over a later one", RuleInput{Area: "南湖街道", Title: "小区门口有摊贩"}, "游商", "cgj"},
		{"pattern in the content", RuleInput{Content: "游商扰民"}, "游商", "cgj"},
		{"area only", RuleInput{Area: "南湖街道", Title: "噪音"}, "南湖片区", "nanhu"},
		{"area is exact, not a substring", RuleInput{Area: "南湖街道办", Title: "噪音"}, "", ""},
		{"nothing matches: default (pending)", RuleInput{Area: "别处", Category: "其他", Title: "咨询"}, "", ""},
	}
	for _, tt := range tests {
		r, dept := rs.Match(tt.in)
		got := ""
		if r != nil {
			got = r.Name
		}
		if got != tt.wantRule || dept != tt.wantDept {
			t.Errorf("%s: Match = (%q, %q), want (%q, %q)", tt.name, got, dept, tt.wantRule, tt.wantDept)
		}
	}
	if r, _ := rs.Match(RuleInput{Title: "摊贩"}); r == nil || r.Urgency != UrgencyUrgent {
		t.Errorf("Match returned %+v, want the rule with its urgency", r)
	}
}

func TestMatchDefaultDepartment(t *testing.T) {
	rs := &RuleSet{Rules: []Rule{{Name: "南湖", Department: "nanhu", Area: []string{"南湖街道"}}}, Default: "cgj"}
	if err := rs.Validate(knownDepartments); err != nil {
		t.Fatal(err)
	}
	if r, dept := rs.Match(RuleInput{Area: "别处"}); r != nil || dept != "cgj" {
		t.Errorf("Match = (%v, %q), want (nil, cgj)", r, dept)
	}
	empty := &RuleSet{}
	if r, dept := empty.Match(RuleInput{Title: "x"}); r != nil || dept != "" {
		t.Errorf("empty set: Match = (%v, %q), want (nil, \"\")", r, dept)
	}
}

func TestRuleWithoutConditionsMatchesEverything(t *testing.T) {
	rs := &RuleSet{Rules: []Rule{{Name: "兜底", Department: "cgj"}}}
	if err := rs.Validate(knownDepartments); err != nil {
		t.Fatal(err)
	}
	if r, dept := rs.Match(RuleInput{}); r == nil || dept != "cgj" {
		t.Errorf("Match = (%v, %q), want the catch-all rule", r, dept)
	}
}

func TestMatchWithoutValidate(t *testing.T) {
	rs := &RuleSet{Rules: []Rule{
		{Name: "坏", Department: "cgj", Pattern: "("},
		{Name: "游商", Department: "cgj", Pattern: "游商"},
	}}
	r, dept := rs.Match(RuleInput{Title: "游商"})
	if r == nil || r.Name != "游商" || dept != "cgj" {
		t.Errorf("unvalidated Match = (%v, %q), want rule 游商 (a bad pattern matches nothing)", r, dept)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		rs   RuleSet
		want []string // substrings of the error
	}{
		{"unknown department", RuleSet{Rules: []Rule{{Name: "a", Department: "nanhu"}, {Name: "b", Department: "nanhu"}, {Name: "龙山片区", Department: "xyz"}}},
			[]string{"第 3 条规则「龙山片区」：承办单位 xyz 不存在"}},
		{"missing name", RuleSet{Rules: []Rule{{Department: "nanhu"}}}, []string{"第 1 条规则：缺少规则名称"}},
		{"missing department", RuleSet{Rules: []Rule{{Name: "a"}}}, []string{"第 1 条规则「a」：缺少承办单位"}},
		{"bad pattern", RuleSet{Rules: []Rule{{Name: "a", Department: "nanhu", Pattern: "(游商"}}}, []string{"第 1 条规则「a」：正则表达式", "(游商"}},
		{"bad urgency", RuleSet{Rules: []Rule{{Name: "a", Department: "nanhu", Urgency: "very"}}}, []string{"第 1 条规则「a」：紧急程度", "very"}},
		{"duplicate name", RuleSet{Rules: []Rule{{Name: "a", Department: "nanhu"}, {Name: "a", Department: "cgj"}}}, []string{"第 2 条规则「a」：与第 1 条规则重名"}},
		{"empty keyword", RuleSet{Rules: []Rule{{Name: "a", Department: "nanhu", Keywords: []string{""}}}}, []string{"第 1 条规则「a」：关键词"}},
		{"unknown default", RuleSet{Default: "nope"}, []string{"默认承办单位", "nope"}},
		{"every problem is named", RuleSet{Rules: []Rule{{Name: "a", Department: "xyz"}, {Name: "b", Department: "nanhu", Pattern: "["}}},
			[]string{"第 1 条规则「a」：承办单位 xyz 不存在", "第 2 条规则「b」：正则表达式"}},
	}
	for _, tt := range tests {
		err := tt.rs.Validate(knownDepartments)
		if ErrorCodeOf(err) != EINVALID {
			t.Errorf("%s: err = %v, want invalid", tt.name, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.name, err, w)
			}
		}
	}
	ok := RuleSet{Rules: []Rule{{Name: "a", Department: "nanhu", Urgency: UrgencyNormal}}, Default: "cgj"}
	if err := ok.Validate(knownDepartments); err != nil {
		t.Errorf("valid set: %v", err)
	}
}

func TestRuleSetSharedAcrossGoroutines(t *testing.T) {
	rs := seedRules(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, dept := rs.Match(RuleInput{Content: "摊贩"}); dept != "cgj" {
					t.Errorf("Match under concurrency = %q", dept)
					return
				}
			}
		}()
	}
	wg.Wait()
}
