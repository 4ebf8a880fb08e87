package storage

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
)

// RuleVersion is one saved version of the routing rules.
type RuleVersion struct {
	Version   int       `db:"version"`
	Text      string    `db:"text"` // the TOML as given
	CreatedBy string    `db:"created_by"`
	CreatedAt time.Time `db:"created_at"`
}

// rulesFile is the TOML of CONTRACT.md "Routing rules file".
type rulesFile struct {
	Rule    []ruleEntry `toml:"rule"`
	Default *struct {
		Department string `toml:"department"`
	} `toml:"default"`
}

type ruleEntry struct {
	Name       string   `toml:"name"`
	Department string   `toml:"department"`
	Area       []string `toml:"area"`
	Category   []string `toml:"category"`
	Keywords   []string `toml:"keywords"`
	Pattern    string   `toml:"pattern"`
	Urgency    string   `toml:"urgency"`
}

// ParseRules reads a rules file (TOML, CONTRACT.md "Routing rules file") and
// checks everything but whether the departments exist (ReplaceRules does):
// a parse error or an unknown key names the line ("第 12 行：…"), a bad rule
// names the rule.
func ParseRules(text string) (hotlinebot.RuleSet, error) {
	var f rulesFile
	md, err := toml.Decode(text, &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return hotlinebot.RuleSet{}, hotlinebot.Errorf(hotlinebot.EINVALID, "规则文件第 %d 行：%s", errorLine(text, pe.Position), pe.Message)
		}
		if m := typeErrorRE.FindStringSubmatch(err.Error()); m != nil {
			want := "类型不对"
			if strings.Contains(m[3], "destination has type slice") {
				want = "应为列表，例如 [\"…\"]"
			} else if strings.Contains(m[3], "destination has type string") {
				want = "应为加引号的文字，例如 \"…\""
			}
			return hotlinebot.RuleSet{}, hotlinebot.Errorf(hotlinebot.EINVALID, "规则文件第 %s 行（%s）：%s", m[1], m[2], want)
		}
		return hotlinebot.RuleSet{}, hotlinebot.Errorf(hotlinebot.EINVALID, "规则文件无法解析：%v", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var problems []string
		for _, k := range und {
			msg := fmt.Sprintf("未知的键 %s", k)
			if line := keyLine(text, k[len(k)-1]); line > 0 {
				msg = fmt.Sprintf("第 %d 行：%s", line, msg)
			}
			problems = append(problems, "规则文件"+msg)
		}
		return hotlinebot.RuleSet{}, hotlinebot.Errorf(hotlinebot.EINVALID, "%s", strings.Join(problems, "\n"))
	}
	if f.Default == nil {
		return hotlinebot.RuleSet{}, hotlinebot.Errorf(hotlinebot.EINVALID,
			"规则文件缺少 [default] 段：请写明未匹配工单的默认承办单位（department = \"\" 表示留待热线办分派）")
	}
	rs := hotlinebot.RuleSet{Default: strings.TrimSpace(f.Default.Department)}
	known := map[string]bool{rs.Default: true}
	for _, e := range f.Rule {
		r := hotlinebot.Rule{
			Name: strings.TrimSpace(e.Name), Department: strings.TrimSpace(e.Department),
			Area: e.Area, Category: e.Category, Keywords: e.Keywords, Pattern: e.Pattern,
			Urgency: hotlinebot.Urgency(e.Urgency),
		}
		if e.Urgency != "" {
			if u, err := hotlinebot.ParseUrgency(e.Urgency); err == nil {
				r.Urgency = u
			}
		}
		known[r.Department] = true
		rs.Rules = append(rs.Rules, r)
	}
	delete(known, "")
	if err := rs.Validate(known); err != nil {
		return hotlinebot.RuleSet{}, err
	}
	return rs, nil
}

// errorLine is the line of a parse error's offset: the decoder counts a line
// ended by the newline it stopped at ("[default" without its "]") as the
// next one.
func errorLine(text string, p toml.Position) int {
	if p.Start <= 0 || p.Start >= len(text) {
		return p.Line
	}
	return 1 + strings.Count(text[:p.Start], "\n")
}

// typeErrorRE reads the decoder's errors for values of the wrong type, which
// are not ParseErrors.
var typeErrorRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// keyLine finds the first line that sets key, for errors about keys TOML's
// metadata gives no position for; 0 when none.
func keyLine(text, key string) int {
	re, err := regexp.Compile(`^\s*("` + regexp.QuoteMeta(key) + `"|'` + regexp.QuoteMeta(key) + `'|` + regexp.QuoteMeta(key) + `)\s*=`)
	if err != nil {
		return 0
	}
	for i, line := range strings.Split(text, "\n") {
		if re.MatchString(line) || strings.TrimSpace(line) == "["+key+"]" || strings.TrimSpace(line) == "[["+key+"]]" {
			return i + 1
		}
	}
	return 0
}

// ReplaceRules validates text against the departments and saves it as the new
// version in force; an invalid file changes nothing.
func (s *Store) ReplaceRules(ctx context.Context, text, by string, now time.Time) (RuleVersion, error) {
	rs, err := ParseRules(text)
	if err != nil {
		return RuleVersion{}, err
	}
	v := RuleVersion{Text: text, CreatedBy: by, CreatedAt: now}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		// One writer at a time, so versions follow each other.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('hotlinebot.rules_versions'))`); err != nil {
			return fmt.Errorf("storage: lock rules: %w", err)
		}
		known, err := departmentCodes(ctx, tx)
		if err != nil {
			return err
		}
		if err := rs.Validate(known); err != nil {
			return err
		}
		return tx.GetContext(ctx, &v.Version,
			`INSERT INTO rules_versions (version, text, created_by, created_at)
			 SELECT coalesce(max(version), 0) + 1, $1, $2, $3 FROM rules_versions RETURNING version`,
			text, by, now)
	})
	if err != nil {
		if hotlinebot.ErrorCodeOf(err) != hotlinebot.EINTERNAL {
			return RuleVersion{}, err
		}
		return RuleVersion{}, fmt.Errorf("storage: save rules: %w", err)
	}
	s.cacheRules(v, rs)
	return v, nil
}

type cachedRules struct {
	version RuleVersion
	set     hotlinebot.RuleSet
}

func (s *Store) cacheRules(v RuleVersion, rs hotlinebot.RuleSet) {
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	if s.rulesCache == nil || s.rulesCache.version.Version < v.Version {
		s.rulesCache = &cachedRules{version: v, set: rs}
	}
}

// Rules returns the rules in force and their version (an empty set with
// Default "" and version 0 before any import). The latest version is read
// from the database every time, so a change made on another replica counts
// at once; only the parsing is cached.
func (s *Store) Rules(ctx context.Context) (hotlinebot.RuleSet, RuleVersion, error) {
	var latest int
	if err := s.db.GetContext(ctx, &latest, `SELECT coalesce(max(version), 0) FROM rules_versions`); err != nil {
		return hotlinebot.RuleSet{}, RuleVersion{}, fmt.Errorf("storage: rules: %w", err)
	}
	if latest == 0 {
		return hotlinebot.RuleSet{}, RuleVersion{}, nil
	}
	s.rulesMu.Lock()
	c := s.rulesCache
	s.rulesMu.Unlock()
	if c != nil && c.version.Version == latest {
		return c.set, c.version, nil
	}
	var v RuleVersion
	if err := s.db.GetContext(ctx, &v,
		`SELECT version, text, created_by, created_at FROM rules_versions WHERE version = $1`, latest); err != nil {
		return hotlinebot.RuleSet{}, RuleVersion{}, fmt.Errorf("storage: rules v%d: %w", latest, err)
	}
	rs, err := ParseRules(v.Text)
	if err != nil {
		return hotlinebot.RuleSet{}, v, fmt.Errorf("storage: rules v%d no longer parse: %w", latest, err)
	}
	s.cacheRules(v, rs)
	return rs, v, nil
}

// RuleVersions lists every saved version, newest first.
func (s *Store) RuleVersions(ctx context.Context) ([]RuleVersion, error) {
	var vs []RuleVersion
	if err := s.db.SelectContext(ctx, &vs,
		`SELECT version, text, created_by, created_at FROM rules_versions ORDER BY version DESC`); err != nil {
		return nil, fmt.Errorf("storage: rule versions: %w", err)
	}
	return vs, nil
}
