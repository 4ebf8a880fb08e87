package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// intakeRequest is a ticket as the city platform sends it (CONTRACT.md,
// "HTTP"). Times are strings so that a bad one is refused naming its field.
type intakeRequest struct {
	ExternalID  string `json:"external_id"`
	Title       string `json:"title"`
	Content     string `json:"content"`
	Category    string `json:"category"`
	Area        string `json:"area"`
	Address     string `json:"address"`
	CallerName  string `json:"caller_name"`
	CallerPhone string `json:"caller_phone"`
	Urgency     string `json:"urgency"`
	ReceivedAt  string `json:"received_at"`
	Department  string `json:"department"`
	DueAt       string `json:"due_at"`
}

// handleCreateTicket is intake: idempotent on external_id, 201 with the new
// ticket, or 200 with the stored one when the external_id is known.
func (s *Server) handleCreateTicket(w http.ResponseWriter, r *http.Request) error {
	var in intakeRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	now := s.clock()
	nt, err := s.newTicket(r, in, now)
	if err != nil {
		return err
	}
	t, created, err := s.store.CreateTicket(r.Context(), nt, office, now)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/tickets/"+strconv.FormatInt(t.ID, 10))
	}
	writeJSON(w, status, hotlinebot.TicketView(t, now, s.loc, false))
	return nil
}

// newTicket checks an intake request field by field.
func (s *Server) newTicket(r *http.Request, in intakeRequest, now time.Time) (storage.NewTicket, error) {
	nt := storage.NewTicket{
		ExternalID:  strings.TrimSpace(in.ExternalID),
		Title:       strings.TrimSpace(in.Title),
		Content:     strings.TrimSpace(in.Content),
		Category:    strings.TrimSpace(in.Category),
		Area:        strings.TrimSpace(in.Area),
		Address:     strings.TrimSpace(in.Address),
		CallerName:  strings.TrimSpace(in.CallerName),
		CallerPhone: strings.TrimSpace(in.CallerPhone),
		ReceivedAt:  now,
	}
	for _, f := range []struct{ name, value, what string }{
		{"external_id", nt.ExternalID, "工单编号"},
		{"title", nt.Title, "标题"},
		{"content", nt.Content, "诉求内容"},
	} {
		if f.value == "" {
			return nt, invalidf("缺少必填字段 %s（%s）", f.name, f.what)
		}
	}
	if !validPhone(nt.CallerPhone) {
		return nt, invalidf("字段 caller_phone 无效：应为电话号码（数字，可含 +、-、空格、括号）")
	}
	if in.Urgency != "" {
		u, err := hotlinebot.ParseUrgency(strings.TrimSpace(in.Urgency))
		if err != nil {
			return nt, invalidf("字段 urgency：%s", hotlinebot.ErrorMessage(err))
		}
		nt.Urgency = u
	}
	var err error
	if in.ReceivedAt != "" {
		if nt.ReceivedAt, err = parseTime("received_at", in.ReceivedAt); err != nil {
			return nt, err
		}
	}
	if in.DueAt != "" {
		if nt.DueAt, err = parseTime("due_at", in.DueAt); err != nil {
			return nt, err
		}
		if !nt.DueAt.After(nt.ReceivedAt) {
			return nt, invalidf("字段 due_at 应晚于受理时间 received_at")
		}
	}
	if in.Department != "" {
		if nt.Department, err = s.departmentCode(r, "字段 department", strings.TrimSpace(in.Department)); err != nil {
			return nt, err
		}
	}
	return nt, nil
}

// validPhone accepts what phone numbers are written with; "" is no phone.
func validPhone(p string) bool {
	if len(p) > 32 {
		return false
	}
	for _, c := range p {
		switch {
		case c >= '0' && c <= '9', c == '+', c == '-', c == ' ', c == '(', c == ')':
		default:
			return false
		}
	}
	return true
}

// parseTime reads an RFC 3339 time, naming the field when it is not one.
func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return t, invalidf("字段 %s 不是 RFC 3339 时间（例如 2017-10-20T09:30:00+08:00）：%q", field, v)
	}
	return t, nil
}

// handleListTickets lists tickets by id, filtered by status, department
// (code or name), assignee and overdue=true.
func (s *Server) handleListTickets(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		return err
	}
	now := s.clock()
	f := storage.TicketFilter{Now: now, After: p.After, Limit: p.Limit}
	if v := q.Get("status"); v != "" {
		st := hotlinebot.Status(v)
		if !st.Valid() {
			return invalidf("参数 status 无效：应为 %s 之一", statusList())
		}
		f.Status = st
	}
	if v := q.Get("department"); v != "" {
		if f.Department, err = s.departmentCode(r, "参数 department", v); err != nil {
			return err
		}
	}
	if v := q.Get("overdue"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return invalidf("参数 overdue 无效：应为 true 或 false")
		}
		f.Overdue = b
	}
	if v := q.Get("assignee"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return invalidf("参数 assignee 无效：应为承办人的 id")
		}
		f.AssigneeID = id
	}
	ts, err := s.store.ListTickets(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]hotlinebot.TicketJSON, len(ts))
	for i, t := range ts {
		out[i] = hotlinebot.TicketView(t, now, s.loc, false)
	}
	if len(ts) > 0 {
		setNextLink(w, r, p, len(ts), ts[len(ts)-1].ID)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func statusList() string {
	names := make([]string, len(hotlinebot.Statuses))
	for i, st := range hotlinebot.Statuses {
		names[i] = string(st)
	}
	return strings.Join(names, "、")
}

// handleGetTicket shows one ticket; ?reveal=phone shows the caller's full
// number, and is recorded as a reveal event before the number is shown.
func (s *Server) handleGetTicket(w http.ResponseWriter, r *http.Request) error {
	reveal := false
	switch v := r.URL.Query().Get("reveal"); v {
	case "":
	case "phone":
		reveal = true
	default:
		return invalidf("参数 reveal 无效：只能是 phone")
	}
	t, err := s.ticket(r)
	if err != nil {
		return err
	}
	now := s.clock()
	if reveal && t.CallerPhone != "" {
		_, err := s.store.RecordEvent(r.Context(), hotlinebot.Event{
			TicketID: t.ID, At: now, Action: hotlinebot.ActionReveal,
			Channel: hotlinebot.ChannelAPI, Note: "通过 API 查看来电人完整号码",
		})
		if err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, hotlinebot.TicketView(t, now, s.loc, reveal))
	return nil
}

// ticket finds the ticket named by the path's {ref}.
func (s *Server) ticket(r *http.Request) (hotlinebot.Ticket, error) {
	ref := strings.TrimSpace(r.PathValue("ref"))
	if ref == "" {
		return hotlinebot.Ticket{}, invalidf("缺少工单编号")
	}
	return s.store.Ticket(r.Context(), ref)
}

// handleTicketEvents lists the ticket's history, oldest first.
func (s *Server) handleTicketEvents(w http.ResponseWriter, r *http.Request) error {
	p, err := parsePage(r.URL.Query())
	if err != nil {
		return err
	}
	t, err := s.ticket(r)
	if err != nil {
		return err
	}
	evs, err := s.store.TicketEvents(r.Context(), t.ID)
	if err != nil {
		return err
	}
	evs = pageOf(evs, func(e hotlinebot.Event) int64 { return e.ID }, p)
	out := make([]hotlinebot.EventJSON, len(evs))
	for i, e := range evs {
		out[i] = hotlinebot.EventView(e, s.loc)
	}
	if len(evs) > 0 {
		setNextLink(w, r, p, len(evs), evs[len(evs)-1].ID)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// officeActions are the actions the office takes through the API.
var officeActions = map[hotlinebot.Action]bool{
	hotlinebot.ActionDispatch:         true,
	hotlinebot.ActionReassign:         true,
	hotlinebot.ActionApproveReturn:    true,
	hotlinebot.ActionRejectReturn:     true,
	hotlinebot.ActionApproveExtension: true,
	hotlinebot.ActionRejectExtension:  true,
	hotlinebot.ActionClose:            true,
}

// handleTicketAction applies one of the office's actions and answers the
// ticket as it became.
func (s *Server) handleTicketAction(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Action     string `json:"action"`
		Department string `json:"department"`
		Note       string `json:"note"`
		DueAt      string `json:"due_at"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	a := hotlinebot.Action(strings.TrimSpace(in.Action))
	if a == "" {
		return invalidf("缺少必填字段 action：应为 dispatch、reassign、approve_return、reject_return、approve_extension、reject_extension 或 close")
	}
	if !officeActions[a] {
		return invalidf("字段 action 无效：%q 不是热线办的操作（应为 dispatch、reassign、approve_return、reject_return、approve_extension、reject_extension 或 close）", in.Action)
	}
	cmd := hotlinebot.Command{Action: a, Note: strings.TrimSpace(in.Note)}
	if (a == hotlinebot.ActionDispatch || a == hotlinebot.ActionReassign) && strings.TrimSpace(in.Department) == "" {
		return invalidf("缺少必填字段 department：%s需要指定承办单位", a.Chinese())
	}
	if in.Department != "" {
		code, err := s.departmentCode(r, "字段 department", strings.TrimSpace(in.Department))
		if err != nil {
			return err
		}
		cmd.Department = code
	}
	if in.DueAt != "" {
		due, err := parseTime("due_at", in.DueAt)
		if err != nil {
			return err
		}
		cmd.DueAt = due
	}
	return s.act(w, r, cmd)
}

// handleFollowUp records a 回访.
func (s *Server) handleFollowUp(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Result string `json:"result"`
		Note   string `json:"note"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Result) == "" {
		return invalidf("缺少必填字段 result：应为 satisfied、basic 或 unsatisfied")
	}
	res, err := hotlinebot.ParseFollowUpResult(strings.TrimSpace(in.Result))
	if err != nil {
		return invalidf("字段 result：%s", hotlinebot.ErrorMessage(err))
	}
	return s.act(w, r, hotlinebot.Command{Action: hotlinebot.ActionFollowUp, Result: res, Note: strings.TrimSpace(in.Note)})
}

// act runs cmd on the ticket of the path as the office and answers the ticket.
func (s *Server) act(w http.ResponseWriter, r *http.Request, cmd hotlinebot.Command) error {
	ref := strings.TrimSpace(r.PathValue("ref"))
	now := s.clock()
	tr, err := s.store.Act(r.Context(), ref, office, cmd, now)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, hotlinebot.TicketView(tr.Ticket, now, s.loc, false))
	return nil
}

// handleReport answers the report for the tickets received from..to
// (dates, inclusive, in the calendar's location), or for quarter=2017Q4.
func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) error {
	from, to, err := s.reportPeriod(r.URL.Query())
	if err != nil {
		return err
	}
	rep, err := s.store.Report(r.Context(), from, to, s.clock())
	if err != nil {
		return err
	}
	if rep.Departments == nil {
		rep.Departments = []hotlinebot.DepartmentReport{}
	}
	if rep.Categories == nil {
		rep.Categories = []hotlinebot.CategoryCount{}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) reportPeriod(q url.Values) (from, to time.Time, err error) {
	if v := q.Get("quarter"); v != "" {
		if q.Get("from") != "" || q.Get("to") != "" {
			return from, to, invalidf("参数 quarter 不能与 from、to 同时使用")
		}
		if len(v) != 6 || (v[4] != 'Q' && v[4] != 'q') {
			return from, to, invalidf("参数 quarter 无效：应如 2017Q4")
		}
		year, err1 := strconv.Atoi(v[:4])
		n, err2 := strconv.Atoi(v[5:])
		if err1 != nil || err2 != nil || n < 1 || n > 4 {
			return from, to, invalidf("参数 quarter 无效：应如 2017Q4")
		}
		from = time.Date(year, time.Month(3*n-2), 1, 0, 0, 0, 0, s.loc)
		to = from.AddDate(0, 3, -1)
		return from, to, nil
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(f.name)
		if v == "" {
			return from, to, invalidf("缺少参数 %s（日期，如 2017-10-01）", f.name)
		}
		d, err := time.ParseInLocation(time.DateOnly, v, s.loc)
		if err != nil {
			return from, to, invalidf("参数 %s 不是日期（应如 2017-10-01）：%q", f.name, v)
		}
		*f.dst = d
	}
	if to.Before(from) {
		return from, to, invalidf("参数 to 不能早于 from")
	}
	return from, to, nil
}
