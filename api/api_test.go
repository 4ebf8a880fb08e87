package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/api"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

const token = "test-admin-token-0123456789"

// env is one API server over a fresh database.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	store *storage.Store
	loc   *time.Location
	logs  *syncBuffer

	mu       sync.Mutex
	now      time.Time
	readyErr error
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	url := storagetest.NewDatabase(t)
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	cal, err := hotlinebot.NewWorkCalendar(loc, "18:00", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e := &env{t: t, loc: loc, logs: &syncBuffer{},
		// Friday 27 November 2026, 09:00 in Shanghai: a working day.
		now: time.Date(2026, 11, 27, 9, 0, 0, 0, loc)}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := storage.Open(ctx, url, storage.Options{Calendar: cal, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e.store = st
	h := api.New(api.Options{
		Store:      st,
		AdminToken: token,
		Clock:      e.clock,
		Logger:     logger,
		Location:   loc,
		Ready: func(context.Context) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.readyErr
		},
		QRURL: func(_ context.Context, scene string, expires time.Time) (string, error) {
			return "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=" + scene, nil
		},
	})
	mux := http.NewServeMux()
	api.Register(mux, h)
	// cmd mounts the bot beside the API; the API must leave these alone.
	mux.HandleFunc("/wechat", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "bot") })
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// response is an answer with its body read.
type response struct {
	*http.Response
	body []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v\n%s", r.Request.Method, r.Request.URL, err, r.body)
	}
}

// errorOf decodes the API's error document.
func (r response) errorOf(t *testing.T) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	r.json(t, &e)
	if e.Error.Code == "" {
		t.Fatalf("%s %s: no error code in %s", r.Request.Method, r.Request.URL, r.body)
	}
	return e.Error.Code, e.Error.Message
}

// do sends a request with the admin token; body is JSON-encoded unless it is
// a string or an io.Reader.
func (e *env) do(method, path string, body any) response {
	e.t.Helper()
	return e.doAuth(method, path, body, "Bearer "+token)
}

func (e *env) doAuth(method, path string, body any, auth string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{res, b}
}

// want fails the test unless the answer has the status.
func (e *env) want(r response, status int) response {
	e.t.Helper()
	if r.StatusCode != status {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
	return r
}

// wantError fails unless the answer is the JSON error with status and code;
// it returns the message.
func (e *env) wantError(r response, status int, code string) string {
	e.t.Helper()
	e.want(r, status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s %s: error Content-Type %q", r.Request.Method, r.Request.URL.Path, ct)
	}
	got, msg := r.errorOf(e.t)
	if got != code {
		e.t.Fatalf("%s %s: error code %q, want %q (%s)", r.Request.Method, r.Request.URL.Path, got, code, msg)
	}
	return msg
}

// ticket is the API's ticket JSON, decoded loosely enough to see nulls.
type ticket struct {
	ID             int64   `json:"id"`
	Ref            string  `json:"ref"`
	ExternalID     string  `json:"external_id"`
	Title          string  `json:"title"`
	CallerPhone    string  `json:"caller_phone"`
	Urgency        string  `json:"urgency"`
	Status         string  `json:"status"`
	Department     *string `json:"department"`
	Assignee       *int64  `json:"assignee"`
	ReceivedAt     *string `json:"received_at"`
	DueAt          *string `json:"due_at"`
	CompletedAt    *string `json:"completed_at"`
	Outcome        *string `json:"outcome"`
	FollowUpResult *string `json:"followup_result"`
	ReopenCount    int     `json:"reopen_count"`
	Overdue        bool    `json:"overdue"`
	Rule           *string `json:"rule"`
}

type event struct {
	ID         int64   `json:"id"`
	At         string  `json:"at"`
	Action     string  `json:"action"`
	Actor      *int64  `json:"actor"`
	Channel    string  `json:"channel"`
	FromStatus *string `json:"from_status"`
	ToStatus   *string `json:"to_status"`
	Note       string  `json:"note"`
}

func (e *env) addDepartment(code, name string) {
	e.t.Helper()
	e.want(e.do("POST", "/api/v1/departments", map[string]string{"code": code, "name": name}), http.StatusCreated)
}

func (e *env) intake(fields map[string]any) (response, ticket) {
	e.t.Helper()
	r := e.do("POST", "/api/v1/tickets", fields)
	var tk ticket
	if r.StatusCode == http.StatusCreated || r.StatusCode == http.StatusOK {
		r.json(e.t, &tk)
	}
	return r, tk
}

func (e *env) events(ref string) []event {
	e.t.Helper()
	var evs []event
	e.want(e.do("GET", "/api/v1/tickets/"+ref+"/events", nil), http.StatusOK).json(e.t, &evs)
	return evs
}

func actions(evs []event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Action
	}
	return out
}

func hasAction(evs []event, a string) bool {
	for _, ev := range evs {
		if ev.Action == a {
			return true
		}
	}
	return false
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ name, auth string }{
		{"missing", ""},
		{"wrong token", "Bearer wrong"},
		{"token with a suffix", "Bearer " + token + "x"},
		{"token's prefix", "Bearer " + token[:len(token)-1]},
		{"basic scheme", "Basic " + token},
		{"bare token", token},
		{"empty bearer", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.doAuth("GET", "/api/v1/departments", nil, tc.auth)
			e.wantError(r, http.StatusUnauthorized, "unauthorized")
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// An unknown path under /api/ asks for the token too: the surface is not
	// probed without it.
	e.wantError(e.doAuth("GET", "/api/v1/nothing", nil, ""), http.StatusUnauthorized, "unauthorized")
	// The scheme is case-insensitive (RFC 9110).
	e.want(e.doAuth("GET", "/api/v1/departments", nil, "bearer "+token), http.StatusOK)
	e.want(e.do("GET", "/api/v1/departments", nil), http.StatusOK)

	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		e.want(e.doAuth("GET", p, nil, ""), http.StatusOK)
	}
	// The bot's paths are not the API's.
	if r := e.doAuth("GET", "/wechat", nil, ""); r.StatusCode != 200 || string(r.body) != "bot" {
		t.Errorf("/wechat answered %d %q: the API claimed it", r.StatusCode, r.body)
	}
	if strings.Contains(e.logs.String(), token) {
		t.Error("the admin token appears in the logs")
	}
}

func TestEmptyTokenRefusesEverything(t *testing.T) {
	e := newEnv(t)
	h := api.New(api.Options{Store: e.store, AdminToken: "", Logger: slog.New(slog.DiscardHandler)})
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		req := httptest.NewRequest("GET", "/api/v1/departments", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("no admin token configured, Authorization %q: status %d, want 401", auth, rec.Code)
		}
	}
}

func TestDepartmentsAndUsers(t *testing.T) {
	e := newEnv(t)
	e.addDepartment("longshan", "龙山管理处")
	e.wantError(e.do("POST", "/api/v1/departments", map[string]string{"code": "longshan", "name": "另一个"}), http.StatusConflict, "conflict")
	msg := e.wantError(e.do("POST", "/api/v1/departments", map[string]string{"name": "无代码"}), http.StatusBadRequest, "invalid")
	if !strings.Contains(msg, "code") {
		t.Errorf("missing code: message %q does not name the field", msg)
	}
	var ds []map[string]any
	e.want(e.do("GET", "/api/v1/departments", nil), http.StatusOK).json(t, &ds)
	if len(ds) != 1 || ds[0]["code"] != "longshan" || ds[0]["name"] != "龙山管理处" {
		t.Fatalf("departments = %v", ds)
	}

	var u map[string]any
	e.want(e.do("POST", "/api/v1/users", map[string]string{
		"name": "李四", "role": "handler", "department": "龙山管理处", "phone": "13900001111",
	}), http.StatusCreated).json(t, &u)
	id, ok := u["id"].(float64)
	if !ok || id <= 0 {
		t.Fatalf("POST /api/v1/users answered %v: no id", u)
	}
	if u["department"] != "longshan" || u["role"] != "handler" || u["name"] != "李四" {
		t.Errorf("user = %v (the department given by name must be stored by code)", u)
	}
	msg = e.wantError(e.do("POST", "/api/v1/users", map[string]string{"name": "王五", "role": "boss"}), http.StatusBadRequest, "invalid")
	if !strings.Contains(msg, "role") {
		t.Errorf("bad role: message %q does not name the field", msg)
	}
	msg = e.wantError(e.do("POST", "/api/v1/users", map[string]string{"name": "王五", "role": "handler", "department": "nowhere"}), http.StatusBadRequest, "invalid")
	if !strings.Contains(msg, "department") {
		t.Errorf("unknown department: message %q does not name the field", msg)
	}
	var us []map[string]any
	e.want(e.do("GET", "/api/v1/users?department=longshan", nil), http.StatusOK).json(t, &us)
	if len(us) != 1 || us[0]["id"] != id {
		t.Fatalf("users of longshan = %v", us)
	}

	var bc map[string]any
	e.want(e.do("POST", "/api/v1/users/"+strconv.Itoa(int(id))+"/bind-code", nil), http.StatusCreated).json(t, &bc)
	code, _ := bc["code"].(string)
	scene, _ := bc["qr_scene"].(string)
	if code == "" || !strings.Contains(scene, code) {
		t.Errorf("bind code = %v: want a code and a scene that carries it", bc)
	}
	if bc["qr_url"] != "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="+scene {
		t.Errorf("qr_url = %v, want the URL made from the scene", bc["qr_url"])
	}
	exp, err := time.Parse(time.RFC3339, bc["expires_at"].(string))
	if err != nil || !exp.Equal(e.clock().Add(7*24*time.Hour)) {
		t.Errorf("expires_at = %v, want 7 days from now (%v)", bc["expires_at"], err)
	}
	if strings.Contains(e.logs.String(), code) {
		t.Error("the bind code appears in the logs")
	}
	e.wantError(e.do("POST", "/api/v1/users/99999/bind-code", nil), http.StatusNotFound, "not_found")
	e.wantError(e.do("POST", "/api/v1/users/abc/bind-code", nil), http.StatusBadRequest, "invalid")
}

func TestIntakeIdempotent(t *testing.T) {
	e := newEnv(t)
	e.addDepartment("longshan", "龙山管理处")
	in := map[string]any{
		"external_id": "YY20171020-0012", "title": "路边垃圾未清理", "content": "龙山路口垃圾堆放三天",
		"category": "市容市貌", "area": "龙山管理处", "caller_name": "张先生", "caller_phone": "13800000000",
		"received_at": "2026-11-27T08:30:00+08:00", "department": "longshan",
	}
	r, first := e.intake(in)
	e.want(r, http.StatusCreated)
	if first.ID == 0 || first.Ref != "#"+strconv.FormatInt(first.ID, 10) || first.ExternalID != "YY20171020-0012" {
		t.Fatalf("created ticket = %+v", first)
	}
	if loc := r.Header.Get("Location"); loc != "/api/v1/tickets/"+strconv.FormatInt(first.ID, 10) {
		t.Errorf("Location = %q", loc)
	}
	if first.CallerPhone != "138****0000" {
		t.Errorf("caller_phone = %q, want it masked as 138****0000", first.CallerPhone)
	}
	if first.Status != "dispatched" || first.Department == nil || *first.Department != "longshan" {
		t.Errorf("a ticket given a department is dispatched to it: %+v", first)
	}
	if first.ReceivedAt == nil || *first.ReceivedAt != "2026-11-27T08:30:00+08:00" {
		t.Errorf("received_at = %v, want it as given, in the calendar's location", first.ReceivedAt)
	}
	if first.DueAt == nil {
		t.Error("a dispatched ticket has a due_at")
	}

	in["title"] = "重复推送：标题变了"
	r, again := e.intake(in)
	e.want(r, http.StatusOK)
	if again.ID != first.ID || again.Title != first.Title {
		t.Errorf("second intake of the same external_id answered %+v, want the stored ticket %+v", again, first)
	}
	var all []ticket
	e.want(e.do("GET", "/api/v1/tickets", nil), http.StatusOK).json(t, &all)
	if len(all) != 1 {
		t.Errorf("%d tickets stored after two intakes of one external_id", len(all))
	}
	if strings.Contains(e.logs.String(), "13800000000") {
		t.Error("the caller's phone appears in the logs")
	}
}

func TestIntakeDefaultsReceivedAtToNow(t *testing.T) {
	e := newEnv(t)
	r, tk := e.intake(map[string]any{"external_id": "A-1", "title": "噪音", "content": "夜间施工"})
	e.want(r, http.StatusCreated)
	if tk.ReceivedAt == nil || *tk.ReceivedAt != "2026-11-27T09:00:00+08:00" {
		t.Errorf("received_at = %v, want now", tk.ReceivedAt)
	}
	// No rules: the ticket waits for the office.
	if tk.Status != "pending" || tk.Department != nil && *tk.Department != "" || tk.Rule != nil && *tk.Rule != "" {
		t.Errorf("unrouted ticket = %+v, want pending with no department and no rule", tk)
	}
	if tk.Assignee != nil || tk.CompletedAt != nil || tk.Outcome != nil || tk.FollowUpResult != nil {
		t.Errorf("unset fields of a new ticket must be null: %+v", tk)
	}
}

func TestIntakeValidation(t *testing.T) {
	e := newEnv(t)
	e.addDepartment("longshan", "龙山管理处")
	valid := func() map[string]any {
		return map[string]any{"external_id": "V-1", "title": "标题", "content": "内容"}
	}
	for _, tc := range []struct {
		name  string
		edit  func(m map[string]any)
		field string
	}{
		{"no external_id", func(m map[string]any) { delete(m, "external_id") }, "external_id"},
		{"blank title", func(m map[string]any) { m["title"] = "  " }, "title"},
		{"no content", func(m map[string]any) { delete(m, "content") }, "content"},
		{"unknown field", func(m map[string]any) { m["titel"] = "x" }, "titel"},
		{"title not a string", func(m map[string]any) { m["title"] = 5 }, "title"},
		{"bad received_at", func(m map[string]any) { m["received_at"] = "2017-10-20 09:30" }, "received_at"},
		{"bad due_at", func(m map[string]any) { m["due_at"] = "tomorrow" }, "due_at"},
		{"due_at before received_at", func(m map[string]any) {
			m["received_at"] = "2026-11-27T08:00:00+08:00"
			m["due_at"] = "2026-11-26T08:00:00+08:00"
		}, "due_at"},
		{"bad urgency", func(m map[string]any) { m["urgency"] = "asap" }, "urgency"},
		{"unknown department", func(m map[string]any) { m["department"] = "nowhere" }, "department"},
		{"bad phone", func(m map[string]any) { m["caller_phone"] = "call me" }, "caller_phone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := valid()
			tc.edit(m)
			r, _ := e.intake(m)
			msg := e.wantError(r, http.StatusBadRequest, "invalid")
			if !strings.Contains(msg, tc.field) {
				t.Errorf("message %q does not name the field %s", msg, tc.field)
			}
		})
	}
	for _, body := range []string{"", "{", "[1,2]", `{"external_id":"V-1"} {"x":1}`} {
		e.wantError(e.do("POST", "/api/v1/tickets", body), http.StatusBadRequest, "invalid")
	}
	var all []ticket
	e.want(e.do("GET", "/api/v1/tickets", nil), http.StatusOK).json(t, &all)
	if len(all) != 0 {
		t.Errorf("refused intakes stored %d tickets", len(all))
	}
}

// chunked hides its length, so that the server cannot refuse by
// Content-Length and must stop reading at the limit.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	big := `{"external_id":"BIG","title":"t","content":"` + strings.Repeat("长", api.MaxBodyBytes/3+10) + `"}`
	e.wantError(e.do("POST", "/api/v1/tickets", big), http.StatusRequestEntityTooLarge, "too_large")
	e.wantError(e.do("POST", "/api/v1/tickets", chunked{strings.NewReader(big)}), http.StatusRequestEntityTooLarge, "too_large")
	e.wantError(e.do("PUT", "/api/v1/rules", chunked{strings.NewReader("# " + strings.Repeat("x", api.MaxBodyBytes))}), http.StatusRequestEntityTooLarge, "too_large")
	// Just under the limit is read.
	ok := `{"external_id":"OK","title":"t","content":"` + strings.Repeat("x", api.MaxBodyBytes-100) + `"}`
	if r := e.do("POST", "/api/v1/tickets", ok); r.StatusCode == http.StatusRequestEntityTooLarge {
		t.Errorf("a body under 1 MiB was refused as too large")
	}
}

func TestPaging(t *testing.T) {
	e := newEnv(t)
	var ids []int64
	for i := range 5 {
		r, tk := e.intake(map[string]any{"external_id": "P-" + strconv.Itoa(i), "title": "t", "content": "c"})
		e.want(r, http.StatusCreated)
		ids = append(ids, tk.ID)
	}
	var page []ticket
	r := e.want(e.do("GET", "/api/v1/tickets?limit=2", nil), http.StatusOK)
	r.json(t, &page)
	if len(page) != 2 || page[0].ID != ids[0] || page[1].ID != ids[1] {
		t.Fatalf("first page = %+v, want ids %v", page, ids[:2])
	}
	if link := r.Header.Get("Link"); !strings.Contains(link, "after="+strconv.FormatInt(ids[1], 10)) || !strings.Contains(link, `rel="next"`) {
		t.Errorf("Link = %q, want the next page after %d", link, ids[1])
	}
	page = nil
	e.want(e.do("GET", "/api/v1/tickets?limit=2&after="+strconv.FormatInt(ids[1], 10), nil), http.StatusOK).json(t, &page)
	if len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[3] {
		t.Fatalf("second page = %+v, want ids %v", page, ids[2:4])
	}
	page = nil
	r = e.want(e.do("GET", "/api/v1/tickets?limit=2&after="+strconv.FormatInt(ids[3], 10), nil), http.StatusOK)
	r.json(t, &page)
	if len(page) != 1 || page[0].ID != ids[4] || r.Header.Get("Link") != "" {
		t.Fatalf("last page = %+v (Link %q), want id %d and no next link", page, r.Header.Get("Link"), ids[4])
	}
	page = nil
	e.want(e.do("GET", "/api/v1/tickets?limit=1000", nil), http.StatusOK).json(t, &page)
	if len(page) != 5 {
		t.Errorf("limit=1000 gave %d tickets, want 5", len(page))
	}
	for _, q := range []string{"limit=1001", "limit=0", "limit=-1", "limit=abc", "after=x", "after=-3", "status=open", "overdue=maybe"} {
		msg := e.wantError(e.do("GET", "/api/v1/tickets?"+q, nil), http.StatusBadRequest, "invalid")
		if name, _, _ := strings.Cut(q, "="); !strings.Contains(msg, name) {
			t.Errorf("%s: message %q does not name the parameter", q, msg)
		}
	}
	e.wantError(e.do("GET", "/api/v1/departments?limit=5000", nil), http.StatusBadRequest, "invalid")
	e.wantError(e.do("GET", "/api/v1/users?limit=5000", nil), http.StatusBadRequest, "invalid")
}

func TestListFilters(t *testing.T) {
	e := newEnv(t)
	e.addDepartment("longshan", "龙山管理处")
	e.addDepartment("nanhu", "南湖街道办事处")
	for i, dept := range []string{"longshan", "nanhu", "longshan", ""} {
		in := map[string]any{"external_id": "F-" + strconv.Itoa(i), "title": "t", "content": "c"}
		if dept != "" {
			in["department"] = dept
		}
		e.want(func() response { r, _ := e.intake(in); return r }(), http.StatusCreated)
	}
	count := func(q string) int {
		var ts []ticket
		e.want(e.do("GET", "/api/v1/tickets?"+q, nil), http.StatusOK).json(t, &ts)
		return len(ts)
	}
	if n := count("department=longshan"); n != 2 {
		t.Errorf("department=longshan: %d tickets, want 2", n)
	}
	if n := count("department=" + "南湖街道办事处"); n != 1 {
		t.Errorf("department by name: %d tickets, want 1", n)
	}
	if n := count("status=pending"); n != 1 {
		t.Errorf("status=pending: %d tickets, want 1", n)
	}
	if n := count("status=dispatched&department=longshan"); n != 2 {
		t.Errorf("status=dispatched&department=longshan: %d tickets, want 2", n)
	}
	if n := count("overdue=true"); n != 0 {
		t.Errorf("overdue=true before any deadline: %d tickets, want 0", n)
	}
	// A month on, the dispatched tickets are all past their deadline.
	e.advance(30 * 24 * time.Hour)
	if n := count("overdue=true"); n != 3 {
		t.Errorf("overdue=true a month later: %d tickets, want the 3 dispatched", n)
	}
	var ts []ticket
	e.want(e.do("GET", "/api/v1/tickets?overdue=true&limit=1", nil), http.StatusOK).json(t, &ts)
	if len(ts) != 1 || !ts[0].Overdue {
		t.Errorf("overdue ticket shows overdue=%v", ts)
	}
	e.wantError(e.do("GET", "/api/v1/tickets?department=nowhere", nil), http.StatusBadRequest, "invalid")
}

func TestRevealPhone(t *testing.T) {
	e := newEnv(t)
	r, tk := e.intake(map[string]any{"external_id": "R-1", "title": "t", "content": "c", "caller_phone": "13812345678"})
	e.want(r, http.StatusCreated)
	ref := strconv.FormatInt(tk.ID, 10)

	var got ticket
	e.want(e.do("GET", "/api/v1/tickets/"+ref, nil), http.StatusOK).json(t, &got)
	if got.CallerPhone != "138****5678" {
		t.Errorf("caller_phone = %q, want masked", got.CallerPhone)
	}
	if hasAction(e.events(ref), "reveal") {
		t.Fatal("a plain GET recorded a reveal event")
	}
	var list []ticket
	e.want(e.do("GET", "/api/v1/tickets?reveal=phone", nil), http.StatusOK).json(t, &list)
	if len(list) != 1 || list[0].CallerPhone != "138****5678" {
		t.Errorf("the list shows %+v: phones are masked in lists whatever the query", list)
	}

	e.want(e.do("GET", "/api/v1/tickets/"+ref+"?reveal=phone", nil), http.StatusOK).json(t, &got)
	if got.CallerPhone != "13812345678" {
		t.Errorf("?reveal=phone: caller_phone = %q, want the full number", got.CallerPhone)
	}
	evs := e.events(ref)
	last := evs[len(evs)-1]
	if last.Action != "reveal" || last.Channel != "api" || last.Actor != nil {
		t.Errorf("after a reveal the last event is %+v, want a reveal by the office through the API", last)
	}
	if last.At != "2026-11-27T09:00:00+08:00" {
		t.Errorf("reveal event at %q, want now in the calendar's location", last.At)
	}
	e.wantError(e.do("GET", "/api/v1/tickets/"+ref+"?reveal=all", nil), http.StatusBadRequest, "invalid")
	// The ticket can be named by its #ref or its external id as well.
	e.want(e.do("GET", "/api/v1/tickets/%23"+ref, nil), http.StatusOK)
	e.want(e.do("GET", "/api/v1/tickets/R-1", nil), http.StatusOK).json(t, &got)
	if got.ID != tk.ID {
		t.Errorf("by external id: ticket %d, want %d", got.ID, tk.ID)
	}
	if strings.Contains(e.logs.String(), "13812345678") {
		t.Error("the caller's phone appears in the logs")
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/api/v1/tickets/999", "/api/v1/tickets/999/events", "/api/v1/tickets/no-such-ext", "/api/v1/nothing"} {
		e.wantError(e.do("GET", p, nil), http.StatusNotFound, "not_found")
	}
	e.wantError(e.do("POST", "/api/v1/tickets/999/actions", map[string]string{"action": "close"}), http.StatusNotFound, "not_found")
	e.wantError(e.do("POST", "/api/v1/tickets/999/followup", map[string]string{"result": "satisfied"}), http.StatusNotFound, "not_found")
	r := e.do("DELETE", "/api/v1/tickets", nil)
	e.wantError(r, http.StatusMethodNotAllowed, "invalid")
	if allow := r.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow = %q", allow)
	}
	e.wantError(e.doAuth("POST", "/healthz", nil, ""), http.StatusMethodNotAllowed, "invalid")
}

func TestOfficeActionsAndFollowUp(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.addDepartment("longshan", "龙山管理处")
	e.addDepartment("nanhu", "南湖街道办事处")
	var handler struct{ ID int64 }
	e.want(e.do("POST", "/api/v1/users", map[string]string{"name": "李四", "role": "handler", "department": "nanhu"}), http.StatusCreated).json(t, &handler)

	r, tk := e.intake(map[string]any{"external_id": "A-1", "title": "占道经营", "content": "南湖路口摊贩"})
	e.want(r, http.StatusCreated)
	ref := strconv.FormatInt(tk.ID, 10)
	if tk.Status != "pending" {
		t.Fatalf("status %q, want pending (no rules)", tk.Status)
	}
	act := func(body map[string]string) ticket {
		t.Helper()
		var got ticket
		e.want(e.do("POST", "/api/v1/tickets/"+ref+"/actions", body), http.StatusOK).json(t, &got)
		return got
	}

	msg := e.wantError(e.do("POST", "/api/v1/tickets/"+ref+"/actions", map[string]string{"action": "dispatch"}), http.StatusBadRequest, "invalid")
	if !strings.Contains(msg, "department") {
		t.Errorf("dispatch without department: %q", msg)
	}
	msg = e.wantError(e.do("POST", "/api/v1/tickets/"+ref+"/actions", map[string]string{"action": "accept"}), http.StatusBadRequest, "invalid")
	if !strings.Contains(msg, "action") {
		t.Errorf("a handler's action through the API: %q", msg)
	}
	// Closing needs the ticket completed first; reassigning needs it dispatched.
	e.wantError(e.do("POST", "/api/v1/tickets/"+ref+"/actions", map[string]string{"action": "reject_return", "note": "x"}), http.StatusConflict, "conflict")

	got := act(map[string]string{"action": "dispatch", "department": "longshan", "note": "片区"})
	if got.Status != "dispatched" || got.Department == nil || *got.Department != "longshan" || got.DueAt == nil {
		t.Fatalf("after dispatch: %+v", got)
	}
	e.advance(time.Minute)
	got = act(map[string]string{"action": "reassign", "department": "南湖街道办事处"})
	if got.Status != "dispatched" || *got.Department != "nanhu" {
		t.Fatalf("after reassign: %+v", got)
	}

	// The handler signs and completes by WeChat; the office follows up.
	hActor := hotlinebot.Actor{PersonID: handler.ID, Role: hotlinebot.RoleHandler, Department: "nanhu", Channel: hotlinebot.ChannelWeChat}
	e.advance(time.Hour)
	if _, err := e.store.Act(ctx, ref, hActor, hotlinebot.Command{Action: hotlinebot.ActionAccept}, e.clock()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Act(ctx, ref, hActor, hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已劝离"}, e.clock()); err != nil {
		t.Fatal(err)
	}

	e.wantError(e.do("POST", "/api/v1/tickets/"+ref+"/followup", map[string]string{"result": "so-so"}), http.StatusBadRequest, "invalid")
	var fu ticket
	e.want(e.do("POST", "/api/v1/tickets/"+ref+"/followup", map[string]string{"result": "unsatisfied", "note": "摊贩又回来了"}), http.StatusOK).json(t, &fu)
	if fu.Status != "dispatched" || fu.ReopenCount != 1 || fu.FollowUpResult == nil || *fu.FollowUpResult != "unsatisfied" {
		t.Fatalf("after an unsatisfied follow-up: %+v, want reopened (dispatched, reopen_count 1)", fu)
	}
	if _, err := e.store.Act(ctx, ref, hActor, hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已取缔"}, e.clock()); err != nil {
		t.Fatal(err)
	}
	e.want(e.do("POST", "/api/v1/tickets/"+ref+"/followup", map[string]string{"result": "满意"}), http.StatusOK).json(t, &fu)
	if fu.Status != "closed" || *fu.FollowUpResult != "satisfied" {
		t.Fatalf("after a satisfied follow-up: %+v, want closed", fu)
	}
	e.wantError(e.do("POST", "/api/v1/tickets/"+ref+"/actions", map[string]string{"action": "close"}), http.StatusConflict, "conflict")

	evs := e.events(ref)
	want := []string{"create", "dispatch", "reassign", "accept", "complete", "follow_up", "reopen", "complete", "follow_up"}
	got2 := actions(evs)
	if !containsInOrder(got2, want) {
		t.Fatalf("events %v, want %v in that order", got2, want)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			t.Fatalf("events not oldest first: %v", evs)
		}
	}
	for _, ev := range evs {
		if ev.Action == "dispatch" && (ev.Channel != "api" || !strings.Contains(ev.Note, "片区") || ev.ToStatus == nil || *ev.ToStatus != "dispatched") {
			t.Errorf("dispatch event %+v, want by the API, with its note, to dispatched", ev)
		}
		if ev.Action == "accept" && (ev.Actor == nil || *ev.Actor != handler.ID || ev.Channel != "wechat") {
			t.Errorf("accept event %+v, want by the handler through WeChat", ev)
		}
	}
	// Events page like the other lists.
	var firstTwo []event
	e.want(e.do("GET", "/api/v1/tickets/"+ref+"/events?limit=2", nil), http.StatusOK).json(t, &firstTwo)
	if len(firstTwo) != 2 || firstTwo[0].ID != evs[0].ID || firstTwo[1].ID != evs[1].ID {
		t.Errorf("events?limit=2 = %v", firstTwo)
	}
}

// containsInOrder reports whether want occurs in got as a subsequence.
func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

const rulesV1 = `# 分派规则
[[rule]]
name = "龙山片区"
department = "longshan"
area = ["龙山管理处"]

[[rule]]
name = "占道经营"
department = "nanhu"
keywords = ["占道", "摊贩"]

[default]
department = ""
`

func TestRules(t *testing.T) {
	e := newEnv(t)
	e.addDepartment("longshan", "龙山管理处")
	e.addDepartment("nanhu", "南湖街道办事处")

	e.wantError(e.do("GET", "/api/v1/rules", nil), http.StatusNotFound, "not_found")

	var v struct {
		Version   int    `json:"version"`
		CreatedBy string `json:"created_by"`
		CreatedAt string `json:"created_at"`
	}
	e.want(e.do("PUT", "/api/v1/rules", rulesV1), http.StatusOK).json(t, &v)
	if v.Version < 1 || v.CreatedAt != "2026-11-27T09:00:00+08:00" {
		t.Errorf("PUT rules answered %+v", v)
	}
	r := e.want(e.do("GET", "/api/v1/rules", nil), http.StatusOK)
	if string(r.body) != rulesV1 {
		t.Errorf("GET rules = %q, want the file as saved", r.body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "toml") && !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET rules Content-Type %q", ct)
	}

	for _, bad := range []struct{ name, text, mention string }{
		{"unknown department", strings.Replace(rulesV1, `department = "nanhu"`, `department = "nowhere"`, 1), "nowhere"},
		{"no default", rulesV1[:strings.Index(rulesV1, "[default]")], "default"},
		{"bad pattern", strings.Replace(rulesV1, `keywords = ["占道", "摊贩"]`, `pattern = "(游商"`, 1), "占道经营"},
		{"not TOML", "[[rule]\nname = ", ""},
		{"empty", "", ""},
	} {
		t.Run(bad.name, func(t *testing.T) {
			msg := e.wantError(e.do("PUT", "/api/v1/rules", bad.text), http.StatusBadRequest, "invalid")
			if bad.mention != "" && !strings.Contains(msg, bad.mention) {
				t.Errorf("message %q does not name %q", msg, bad.mention)
			}
			if r := e.want(e.do("GET", "/api/v1/rules", nil), http.StatusOK); string(r.body) != rulesV1 {
				t.Errorf("after a refused file the rules in force are %q", r.body)
			}
		})
	}

	var res struct {
		Rule       *string `json:"rule"`
		Department *string `json:"department"`
	}
	e.want(e.do("POST", "/api/v1/rules/test", map[string]string{"area": "南湖", "title": "路口摊贩", "content": "占道"}), http.StatusOK).json(t, &res)
	if res.Rule == nil || *res.Rule != "占道经营" || res.Department == nil || *res.Department != "nanhu" {
		t.Errorf("rules test = rule %v department %v, want 占道经营 → nanhu", deref(res.Rule), deref(res.Department))
	}
	res.Rule, res.Department = nil, nil
	e.want(e.do("POST", "/api/v1/rules/test", map[string]string{"title": "噪音", "content": "夜间施工"}), http.StatusOK).json(t, &res)
	if res.Rule != nil || res.Department != nil {
		t.Errorf("no rule matches: rule %v department %v, want both null (pending)", deref(res.Rule), deref(res.Department))
	}
	e.wantError(e.do("POST", "/api/v1/rules/test", map[string]string{"titel": "x"}), http.StatusBadRequest, "invalid")
	var all []ticket
	e.want(e.do("GET", "/api/v1/tickets", nil), http.StatusOK).json(t, &all)
	if len(all) != 0 {
		t.Errorf("rules test stored %d tickets", len(all))
	}

	// Intake routes by the rules in force and records the rule.
	r, tk := e.intake(map[string]any{"external_id": "RU-1", "title": "垃圾", "content": "堆放", "area": "龙山管理处"})
	e.want(r, http.StatusCreated)
	if tk.Department == nil || *tk.Department != "longshan" || tk.Rule == nil || *tk.Rule != "龙山片区" || tk.Status != "dispatched" {
		t.Errorf("routed ticket = %+v, want longshan by 龙山片区", tk)
	}
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

func TestReport(t *testing.T) {
	e := newEnv(t)
	e.addDepartment("longshan", "龙山管理处")
	for i := range 3 {
		r, _ := e.intake(map[string]any{"external_id": "RP-" + strconv.Itoa(i), "title": "t", "content": "c",
			"category": "市容市貌", "department": "longshan", "received_at": "2026-11-2" + strconv.Itoa(i) + "T10:00:00+08:00"})
		e.want(r, http.StatusCreated)
	}
	r := e.want(e.do("GET", "/api/v1/report?from=2026-11-01&to=2026-11-30", nil), http.StatusOK)
	var raw map[string]json.RawMessage
	r.json(t, &raw)
	for _, k := range []string{"from", "to", "received", "completed", "completion_rate", "followups", "satisfied",
		"satisfaction_rate", "overdue", "overdue_rate", "departments", "categories"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("report lacks %q: %s", k, r.body)
		}
	}
	var rep hotlinebot.Report
	r.json(t, &rep)
	if rep.From != "2026-11-01" || rep.To != "2026-11-30" || rep.Received != 3 || rep.Completed != 0 {
		t.Errorf("report = %+v", rep)
	}
	if len(rep.Departments) != 1 || rep.Departments[0].Code != "longshan" || rep.Departments[0].Name != "龙山管理处" || rep.Departments[0].Received != 3 {
		t.Errorf("report departments = %+v", rep.Departments)
	}
	if len(rep.Categories) != 1 || rep.Categories[0].Name != "市容市貌" || rep.Categories[0].Count != 3 {
		t.Errorf("report categories = %+v", rep.Categories)
	}
	// Empty period: lists are [] not null.
	r = e.want(e.do("GET", "/api/v1/report?from=2017-10-01&to=2017-12-31", nil), http.StatusOK)
	r.json(t, &raw)
	if string(raw["departments"]) == "null" || string(raw["categories"]) == "null" || string(raw["received"]) != "0" {
		t.Errorf("empty report = %s", r.body)
	}
	e.want(e.do("GET", "/api/v1/report?quarter=2026Q4", nil), http.StatusOK).json(t, &rep)
	if rep.From != "2026-10-01" || rep.To != "2026-12-31" || rep.Received != 3 {
		t.Errorf("quarter=2026Q4 report = %+v", rep)
	}
	for _, q := range []string{"", "from=2026-11-01", "from=2026-11-01&to=30.11.2026", "from=2026-12-01&to=2026-11-01", "quarter=2026Q5"} {
		e.wantError(e.do("GET", "/api/v1/report?"+q, nil), http.StatusBadRequest, "invalid")
	}
}

func TestReadyz(t *testing.T) {
	e := newEnv(t)
	e.want(e.doAuth("GET", "/readyz", nil, ""), http.StatusOK)
	e.mu.Lock()
	e.readyErr = errors.New("scheduler: no tick for 5m0s")
	e.mu.Unlock()
	r := e.doAuth("GET", "/readyz", nil, "")
	msg := e.wantError(r, http.StatusServiceUnavailable, "unavailable")
	if !strings.Contains(msg, "scheduler") {
		t.Errorf("readyz reason %q", msg)
	}
	e.want(e.doAuth("GET", "/healthz", nil, ""), http.StatusOK)

	// A database that is gone fails readiness, not liveness.
	e.mu.Lock()
	e.readyErr = nil
	e.mu.Unlock()
	e.store.Close()
	e.wantError(e.doAuth("GET", "/readyz", nil, ""), http.StatusServiceUnavailable, "unavailable")
	e.want(e.doAuth("GET", "/healthz", nil, ""), http.StatusOK)
	// The API says so too, as a 503 the client may retry.
	e.wantError(e.do("GET", "/api/v1/tickets", nil), http.StatusServiceUnavailable, "unavailable")
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.want(func() response {
		r, _ := e.intake(map[string]any{"external_id": "M-1", "title": "t", "content": "c"})
		return r
	}(), http.StatusCreated)
	e.wantError(e.doAuth("GET", "/api/v1/tickets", nil, ""), http.StatusUnauthorized, "unauthorized")
	r := e.want(e.doAuth("GET", "/metrics", nil, ""), http.StatusOK)
	body := string(r.body)
	for _, want := range []string{
		`hotlinebot_http_requests_total{code="201",route="POST /api/v1/tickets"} 1`,
		`hotlinebot_http_requests_total{code="401",route="GET /api/v1/tickets"} 1`,
		`hotlinebot_http_request_duration_seconds_count{route="POST /api/v1/tickets"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(e.logs.String(), `route="POST /api/v1/tickets" `) || !strings.Contains(e.logs.String(), "status=201") {
		t.Errorf("no request log line with route and status:\n%s", e.logs.String())
	}
}
