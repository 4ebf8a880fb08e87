package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/hotlinebot/hotlinebot"
)

// rulesBy is who a rules version saved through the API is recorded as.
const rulesBy = "api"

// ruleVersionView is a saved version of the routing rules.
type ruleVersionView struct {
	Version   int    `json:"version"`
	CreatedBy string `json:"created_by"`
	CreatedAt string `json:"created_at"`
}

// handlePutRules replaces the rules in force with the TOML body. An invalid
// file is refused whole (400 naming the line or rule) and changes nothing.
func (s *Server) handlePutRules(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	text := string(body)
	if strings.TrimSpace(text) == "" {
		return invalidf("请求体为空：应为分派规则文件（TOML）")
	}
	v, err := s.store.ReplaceRules(r.Context(), text, rulesBy, s.clock())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ruleVersionView{Version: v.Version, CreatedBy: v.CreatedBy, CreatedAt: s.formatTime(v.CreatedAt)})
	return nil
}

// handleGetRules answers the rules file in force, as it was saved.
func (s *Server) handleGetRules(w http.ResponseWriter, r *http.Request) error {
	_, v, err := s.store.Rules(r.Context())
	if err != nil {
		return err
	}
	if v.Version == 0 {
		return hotlinebot.Errorf(hotlinebot.ENOTFOUND, "尚未导入分派规则：所有工单都待热线办分派")
	}
	h := w.Header()
	h.Set("Content-Type", "application/toml; charset=utf-8")
	h.Set("X-Rules-Version", strconv.Itoa(v.Version))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(v.Text))
	return nil
}

// ruleTestView is where a ticket would go: the rule that matched (null for
// the default) and the department (null: pending for the office).
type ruleTestView struct {
	Rule       *string `json:"rule"`
	Department *string `json:"department"`
}

// handleTestRules routes a would-be ticket through the rules in force,
// saving nothing.
func (s *Server) handleTestRules(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Category string `json:"category"`
		Area     string `json:"area"`
		Title    string `json:"title"`
		Content  string `json:"content"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	rs, _, err := s.store.Rules(r.Context())
	if err != nil {
		return err
	}
	rule, dept := rs.Match(hotlinebot.RuleInput{Category: in.Category, Area: in.Area, Title: in.Title, Content: in.Content})
	out := ruleTestView{Department: nullable(dept)}
	if rule != nil {
		out.Rule = nullable(rule.Name)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
