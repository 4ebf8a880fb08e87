package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// departmentView is a department as the API shows it: its shared JSON shape
// plus the id that list paging (after) goes by.

func (s *Server) handleCreateDepartment(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Code string `json:"code"`
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Code) == "" {
		return invalidf("缺少必填字段 code（单位代码）")
	}
	if strings.TrimSpace(in.Name) == "" {
		return invalidf("缺少必填字段 name（单位名称）")
	}
	d, err := s.store.CreateDepartment(r.Context(), hotlinebot.Department{Code: in.Code, Name: in.Name})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, hotlinebot.DepartmentView(d))
	return nil
}

func (s *Server) handleListDepartments(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r.URL.Query())
	if err != nil {
		return err
	}
	ds, err := s.store.ListDepartments(r.Context())
	if err != nil {
		return err
	}
	ds = pageOf(ds, func(d hotlinebot.Department) int64 { return d.ID }, p)
	out := make([]hotlinebot.DepartmentJSON, len(ds))
	for i, d := range ds {
		out[i] = hotlinebot.DepartmentView(d)
	}
	if len(ds) > 0 {
		setNextLink(w, r, p, len(ds), ds[len(ds)-1].ID)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name       string `json:"name"`
		Role       string `json:"role"`
		Department string `json:"department"`
		Phone      string `json:"phone"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Name) == "" {
		return invalidf("缺少必填字段 name（姓名）")
	}
	if in.Role == "" {
		return invalidf("缺少必填字段 role：应为 handler、leader 或 office")
	}
	role, err := hotlinebot.ParseRole(in.Role)
	if err != nil {
		return invalidf("字段 role：%s", hotlinebot.ErrorMessage(err))
	}
	p := hotlinebot.Person{Name: strings.TrimSpace(in.Name), Role: role, Phone: strings.TrimSpace(in.Phone)}
	if in.Department != "" {
		code, err := s.departmentCode(r, "字段 department", in.Department)
		if err != nil {
			return err
		}
		p.Department = code
	}
	if role == hotlinebot.RoleHandler && p.Department == "" {
		return invalidf("字段 department：承办人必须属于一个单位")
	}
	p, err = s.store.CreatePerson(r.Context(), p, s.clock())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, hotlinebot.PersonView(p, s.loc))
	return nil
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	pg, err := parsePage(q)
	if err != nil {
		return err
	}
	f := storage.PeopleFilter{After: pg.After, Limit: pg.Limit}
	if v := q.Get("role"); v != "" {
		role, err := hotlinebot.ParseRole(v)
		if err != nil {
			return invalidf("参数 role：%s", hotlinebot.ErrorMessage(err))
		}
		f.Role = role
	}
	if v := q.Get("department"); v != "" {
		if f.Department, err = s.departmentCode(r, "参数 department", v); err != nil {
			return err
		}
	}
	people, err := s.store.ListPeople(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]hotlinebot.PersonJSON, len(people))
	for i, p := range people {
		out[i] = hotlinebot.PersonView(p, s.loc)
	}
	if len(people) > 0 {
		setNextLink(w, r, pg, len(people), people[len(people)-1].ID)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// bindCodeView is a freshly issued bind code. The code is shown this once.
type bindCodeView struct {
	Code      string `json:"code"`
	ExpiresAt string `json:"expires_at"`
	QRScene   string `json:"qr_scene"`
	QRURL     string `json:"qr_url"`
}

func (s *Server) handleBindCode(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return invalidf("用户 id %q 无效：应为正整数", r.PathValue("id"))
	}
	bc, err := s.store.IssueBindCode(r.Context(), id, s.clock())
	if err != nil {
		return err
	}
	out := bindCodeView{Code: bc.Code, ExpiresAt: s.formatTime(bc.ExpiresAt), QRScene: bc.Scene}
	if s.qrURL != nil {
		// The code stands without its QR code (the person can send 绑定 <code>),
		// so a failure to make one is logged, not returned.
		u, err := s.qrURL(r.Context(), bc.Scene, bc.ExpiresAt)
		if err != nil {
			s.log.Warn("api: bind QR code not made", "person", id, "error", redact(err.Error()))
		} else {
			out.QRURL = u
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// departmentCode resolves a department given by code or name to its code;
// an unknown one is a 400 naming the field or parameter (label).
func (s *Server) departmentCode(r *http.Request, label, codeOrName string) (string, error) {
	d, err := s.store.Department(r.Context(), codeOrName)
	if err != nil {
		if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
			return "", invalidf("%s：单位 %s 不存在", label, codeOrName)
		}
		return "", err
	}
	return d.Code, nil
}

// formatTime shows t in RFC 3339 in the calendar's location.
func (s *Server) formatTime(t time.Time) string {
	return t.In(s.loc).Format(time.RFC3339)
}

// nullable is s, or nil (JSON null) for "".
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
