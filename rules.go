package hotlinebot

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Rule is one routing rule: a ticket matches when every condition it sets holds.
// Inside one list any value matches; an omitted condition matches everything.
type Rule struct {
	Name       string
	Department string   // department code
	Area       []string // exact match on the ticket's area
	Category   []string // exact match on the ticket's category
	Keywords   []string // substring of the title or the content
	Pattern    string   // regular expression over title and content
	Urgency    Urgency  // optional: sets the ticket's urgency

	// re is Pattern compiled by RuleSet.Validate, so matching never compiles.
	re *regexp.Regexp
}

// RuleSet is the office's routing rules in force: first match wins, in order.
// Once validated it is read-only and safe to share between goroutines.
type RuleSet struct {
	Rules []Rule
	// Default is the department for tickets no rule matches; "" leaves them
	// pending for the office.
	Default string
}

// RuleInput is what routing looks at.
type RuleInput struct {
	Category string
	Area     string
	Title    string
	Content  string
}

// Validate checks every rule: a name, a department in known (a set of
// department codes), a pattern that compiles; and Default in known or "".
// The error names the rule (by position and name). It compiles the patterns
// once for Match, so call it before the set is shared.
func (rs *RuleSet) Validate(known map[string]bool) error {
	var problems []string
	seen := make(map[string]int, len(rs.Rules))
	for i := range rs.Rules {
		r := &rs.Rules[i]
		label := fmt.Sprintf("第 %d 条规则", i+1)
		if r.Name != "" {
			label += "「" + r.Name + "」"
		}
		bad := func(format string, args ...any) {
			problems = append(problems, label+"："+fmt.Sprintf(format, args...))
		}
		switch {
		case strings.TrimSpace(r.Name) == "":
			bad("缺少规则名称 name")
		case seen[r.Name] > 0:
			bad("与第 %d 条规则重名", seen[r.Name])
		default:
			seen[r.Name] = i + 1
		}
		switch {
		case r.Department == "":
			bad("缺少承办单位 department")
		case !known[r.Department]:
			bad("承办单位 %s 不存在", r.Department)
		}
		if slices.Contains(r.Keywords, "") {
			bad("关键词 keywords 不能为空字符串")
		}
		r.re = nil
		if r.Pattern != "" {
			re, err := regexp.Compile(r.Pattern)
			if err != nil {
				bad("正则表达式 pattern %q 无效：%v", r.Pattern, err)
			} else {
				r.re = re
			}
		}
		if r.Urgency != "" && r.Urgency != UrgencyNormal && r.Urgency != UrgencyUrgent {
			bad("紧急程度 urgency %q 无效：应为 normal 或 urgent", r.Urgency)
		}
	}
	if rs.Default != "" && !known[rs.Default] {
		problems = append(problems, fmt.Sprintf("默认承办单位 [default] department %s 不存在", rs.Default))
	}
	if len(problems) > 0 {
		return Errorf(EINVALID, "%s", strings.Join(problems, "\n"))
	}
	return nil
}

// Match returns the first rule that matches (nil when none does) and the
// department the ticket goes to ("" for pending).
func (rs *RuleSet) Match(in RuleInput) (*Rule, string) {
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.matches(in) {
			return r, r.Department
		}
	}
	return nil, rs.Default
}

func (r *Rule) matches(in RuleInput) bool {
	if len(r.Area) > 0 && !slices.Contains(r.Area, in.Area) {
		return false
	}
	if len(r.Category) > 0 && !slices.Contains(r.Category, in.Category) {
		return false
	}
	if len(r.Keywords) > 0 && !slices.ContainsFunc(r.Keywords, func(k string) bool {
		return strings.Contains(in.Title, k) || strings.Contains(in.Content, k)
	}) {
		return false
	}
	if r.Pattern != "" {
		re := r.re
		if re == nil {
			// Not validated: compile here rather than cache, since an
			// unvalidated set may be shared; a bad pattern matches nothing.
			var err error
			if re, err = regexp.Compile(r.Pattern); err != nil {
				return false
			}
		}
		if !re.MatchString(in.Title) && !re.MatchString(in.Content) {
			return false
		}
	}
	return true
}
