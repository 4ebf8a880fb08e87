package bot

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

// digestDistrict is the district the digest page test reads: two
// departments with a handler each, a department leader, the office and a
// district leader, all bound, and tickets at every point the digest counts.
type digestDistrict struct {
	s                          *storage.Store
	zhang, wang, lsLeader      hotlinebot.Person
	clerk, boss                hotlinebot.Person
	openids                    map[string]hotlinebot.Person
	digestDay, digestMoment    time.Time
	digestLinks                *Links
	digestSim                  *plumbing
	digestSender               *Sender
	digestOffice, digestIntake hotlinebot.Actor
}

func newDigestDistrict(t *testing.T) *digestDistrict {
	t.Helper()
	ctx := context.Background()
	s := storagetest.NewStore(t)
	d := &digestDistrict{s: s, openids: map[string]hotlinebot.Person{},
		digestDay:    storagetest.At(2026, 12, 2, 0, 0),
		digestMoment: storagetest.At(2026, 12, 2, 8, 30), // Wednesday, the cron's moment
		digestLinks:  &Links{Secret: []byte("digest page secret"), PublicURL: "https://hotline.example.gov.cn"},
		digestOffice: hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelCLI},
		digestIntake: hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelAPI},
	}
	for _, dep := range []hotlinebot.Department{{Code: "longshan", Name: "龙山管理处"}, {Code: "nanhu", Name: "南湖街道办事处"}} {
		if _, err := s.CreateDepartment(ctx, dep); err != nil {
			t.Fatal(err)
		}
	}
	d.digestSim = newPlumbing(t)
	person := func(name string, role hotlinebot.Role, dept string) hotlinebot.Person {
		p, err := s.CreatePerson(ctx, hotlinebot.Person{Name: name, Role: role, Department: dept}, storagetest.At(2026, 11, 1, 9, 0))
		if err != nil {
			t.Fatal(err)
		}
		p.OpenID = "o-digest-" + strconv.FormatInt(p.ID, 10)
		if _, err := s.DB().ExecContext(ctx, `UPDATE people SET openid = $2, reachable = true, bound_at = $3 WHERE id = $1`,
			p.ID, p.OpenID, storagetest.At(2026, 11, 1, 9, 0)); err != nil {
			t.Fatal(err)
		}
		d.digestSim.sim.Follow(p.OpenID)
		d.openids[p.OpenID] = p
		return p
	}
	d.zhang = person("张三", hotlinebot.RoleHandler, "longshan")
	d.wang = person("王五", hotlinebot.RoleHandler, "nanhu")
	d.lsLeader = person("赵主任", hotlinebot.RoleLeader, "longshan")
	d.clerk = person("钱办事员", hotlinebot.RoleOffice, "")
	d.boss = person("孙区长", hotlinebot.RoleLeader, "")
	sender, err := NewSender(d.digestSim.wc, SenderOptions{Templates: testTemplates, Links: d.digestLinks,
		Clock: func() time.Time { return d.digestMoment }})
	if err != nil {
		t.Fatal(err)
	}
	d.digestSender = sender
	return d
}

func (d *digestDistrict) ticket(t *testing.T, ext, dept string, received time.Time) hotlinebot.Ticket {
	t.Helper()
	tk, _, err := d.s.CreateTicket(context.Background(), storage.NewTicket{ExternalID: ext, Title: "诉求" + ext, Content: "内容", Department: dept},
		d.digestIntake, received)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func (d *digestDistrict) act(t *testing.T, tk hotlinebot.Ticket, actor hotlinebot.Actor, cmd hotlinebot.Command, now time.Time) {
	t.Helper()
	if _, err := d.s.Act(context.Background(), tk.Ref(), actor, cmd, now); err != nil {
		t.Fatalf("%s %s: %v", cmd.Action, tk.Ref(), err)
	}
}

func handlerActor(p hotlinebot.Person) hotlinebot.Actor {
	return hotlinebot.Actor{PersonID: p.ID, Name: p.Name, Role: p.Role, Department: p.Department, Channel: hotlinebot.ChannelWeChat}
}

// expectedDigest counts, from the tickets and events as the API lists them,
// what the digest of day as of asOf must show for dept ("" for the district).
func expectedDigest(t *testing.T, s *storage.Store, day, asOf time.Time, dept string) storage.DigestFigures {
	t.Helper()
	ctx := context.Background()
	tickets, err := s.ListTickets(ctx, storage.TicketFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	yesterday, tomorrow := day.AddDate(0, 0, -1), day.AddDate(0, 0, 1)
	month := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, day.Location())
	in := func(x, from, to time.Time) bool { return !x.IsZero() && !x.Before(from) && x.Before(to) }
	var f storage.DigestFigures
	for _, tk := range tickets {
		if dept != "" && tk.Department != dept {
			continue
		}
		if in(tk.ReceivedAt, yesterday, day) {
			f.Received++
		}
		if in(tk.CompletedAt, yesterday, day) {
			f.Completed++
		}
		if tk.Status.Open() {
			f.Open++
			if in(tk.DueAt, day, tomorrow) {
				f.DueToday++
			}
			if tk.Overdue(asOf) {
				f.Overdue++
			}
		}
		evs, err := s.TicketEvents(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Action == hotlinebot.ActionFollowUp && !e.At.Before(month) && !e.At.After(asOf) {
				f.FollowUps++
				if tk.FollowUpResult.Satisfied() {
					f.Satisfied++
				}
			}
		}
	}
	return f
}

var figureRE = regexp.MustCompile(`<dd id="([a-z-]+)"[^>]*>([^<]*)</dd>`)

func pageFigures(body string) map[string]string {
	m := map[string]string{}
	for _, g := range figureRE.FindAllStringSubmatch(body, -1) {
		m[g[1]] = g[2]
	}
	return m
}

func wantFigures(t *testing.T, who, body string, f storage.DigestFigures) {
	t.Helper()
	got := pageFigures(body)
	want := map[string]string{
		"received": strconv.Itoa(f.Received), "completed": strconv.Itoa(f.Completed), "open": strconv.Itoa(f.Open),
		"due-today": strconv.Itoa(f.DueToday), "overdue": strconv.Itoa(f.Overdue),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s's page: %s = %q, want %s (the database says)", who, k, got[k], v)
		}
	}
	sat := "暂无回访"
	if f.FollowUps > 0 {
		sat = fmt.Sprintf("%.2f%%（%d/%d）", 100*float64(f.Satisfied)/float64(f.FollowUps), f.Satisfied, f.FollowUps)
	}
	if got["satisfaction"] != sat {
		t.Errorf("%s's page: satisfaction %q, want %q", who, got["satisfaction"], sat)
	}
}

// The morning digest goes out through the outbox to the simulated WeChat;
// each leader and office member opens the link in their push and reads the
// figures the database holds, scoped to what they lead. A tampered, expired
// or misplaced link, or one signed for a handler, gets 403.
func TestDigestPageOpenedFromThePush(t *testing.T) {
	ctx := context.Background()
	d := newDigestDistrict(t)
	day, now := d.digestDay, d.digestMoment
	at := storagetest.At

	d.ticket(t, "Y1", "longshan", at(2026, 12, 1, 10, 0))    // received yesterday, open
	y2 := d.ticket(t, "Y2", "nanhu", at(2026, 12, 1, 11, 0)) // received and completed yesterday
	d.act(t, y2, handlerActor(d.wang), hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已处理"}, at(2026, 12, 1, 16, 0))
	d.ticket(t, "Y3", "", at(2026, 12, 1, 12, 0))               // received yesterday, waits for the office
	d.ticket(t, "O1", "longshan", at(2026, 11, 20, 9, 0))       // due 11-27: overdue
	d.ticket(t, "O2", "longshan", at(2026, 11, 19, 9, 0))       // due 11-26: the longest overdue
	d.ticket(t, "T1", "nanhu", at(2026, 11, 25, 9, 0))          // due today, 12-02 18:00
	f1 := d.ticket(t, "F1", "longshan", at(2026, 11, 23, 9, 0)) // completed before, visited this month
	d.act(t, f1, handlerActor(d.zhang), hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已清理"}, at(2026, 11, 30, 10, 0))
	d.act(t, f1, d.digestOffice, hotlinebot.Command{Action: hotlinebot.ActionFollowUp, Result: hotlinebot.FollowUpSatisfied}, at(2026, 12, 1, 15, 0))
	f2 := d.ticket(t, "F2", "nanhu", at(2026, 11, 16, 9, 0))
	d.act(t, f2, handlerActor(d.wang), hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已答复"}, at(2026, 11, 17, 10, 0))
	d.act(t, f2, d.digestOffice, hotlinebot.Command{Action: hotlinebot.ActionFollowUp, Result: hotlinebot.FollowUpBasic}, at(2026, 11, 20, 15, 0)) // last month: not counted

	// The morning run: queue, claim, send, as the scheduler and dispatcher do.
	run, err := d.s.QueueDigest(ctx, now, now, true, func(p hotlinebot.Person, dg storage.Digest) hotlinebot.TemplateData {
		return hotlinebot.TemplateData{Date: dg.Day.Format(hotlinebot.LayoutDate), Count: strconv.Itoa(dg.Open)}
	})
	if err != nil {
		t.Fatal(err)
	}
	if run.People != 3 || run.Queued != 3 {
		t.Fatalf("digest run = %+v, want 3 people (a department leader, the office, the district leader)", run)
	}
	pushes, err := d.s.ClaimPushes(ctx, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pushes {
		if p.Kind != hotlinebot.NotifyDigest {
			continue
		}
		id, err := d.digestSender.Send(ctx, p)
		if err != nil {
			t.Fatalf("send digest to %d: %v", p.PersonID, err)
		}
		if err := d.s.MarkSent(ctx, p.OutboxID, id, now); err != nil {
			t.Fatal(err)
		}
	}
	links := map[int64]*url.URL{}
	for _, m := range d.digestSim.sim.Delivered() {
		if m.TemplateID != "tpl-digest" {
			continue
		}
		u, err := url.Parse(m.URL)
		if err != nil {
			t.Fatal(err)
		}
		p := d.openids[m.ToUser]
		links[p.ID] = u
		if m.Data["date1"] != "2026年12月02日" {
			t.Errorf("push to %s shows date %q", p.Name, m.Data["date1"])
		}
	}
	if len(links) != 3 {
		t.Fatalf("digest pushes delivered to %d people, want 3", len(links))
	}

	clock := now.Add(2 * time.Hour) // read at 10:30
	h, err := NewDigestPage(PagesOptions{Store: d.s, Links: d.digestLinks, Clock: func() time.Time { return clock }, Location: storagetest.Shanghai})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	open := func(p hotlinebot.Person) string {
		t.Helper()
		u := links[p.ID]
		if u == nil || u.Path != "/d/2026-12-02" {
			t.Fatalf("%s's push links %v", p.Name, u)
		}
		rec := get(u.RequestURI())
		if rec.Code != http.StatusOK {
			t.Fatalf("%s opens the digest: %d %s", p.Name, rec.Code, rec.Body.String())
		}
		body := rec.Body.String()
		if strings.Contains(body, "<script") || strings.Contains(body, "src=") || strings.Contains(body, "http-equiv") {
			t.Errorf("%s's page has scripts or external assets", p.Name)
		}
		return body
	}

	// The district leader and the office: the whole district, a line and a bar per department.
	for _, p := range []hotlinebot.Person{d.boss, d.clerk} {
		body := open(p)
		wantFigures(t, p.Name, body, expectedDigest(t, d.s, day, clock, ""))
		for _, name := range []string{"龙山管理处", "南湖街道办事处", "待分派"} {
			if !strings.Contains(body, `<td style="text-align:left">`+name+`</td>`) {
				t.Errorf("%s's page has no line for %s", p.Name, name)
			}
		}
		if n := strings.Count(body, "<title>超期 "); n != 3 || !strings.Contains(body, "<svg ") {
			t.Errorf("%s's chart has %d department bars, want 3", p.Name, n)
		}
		// The longest overdue first, linked to its page for the same reader.
		first := strings.Index(body, "诉求O2")
		if first < 0 || first > strings.Index(body, "诉求O1") {
			t.Errorf("%s's page does not list #O2 before #O1 among the overdue", p.Name)
		}
	}
	// A department's leader: the department only.
	body := open(d.lsLeader)
	wantFigures(t, d.lsLeader.Name, body, expectedDigest(t, d.s, day, clock, "longshan"))
	if strings.Contains(body, "南湖") || !strings.Contains(body, "龙山管理处") {
		t.Errorf("龙山's leader sees more than 龙山:\n%s", body)
	}
	// The page's figures are the push's: the same storage query.
	if f := expectedDigest(t, d.s, day, clock, ""); f.Overdue != 2 || f.Received != 3 || f.Completed != 1 || f.DueToday != 1 || f.FollowUps != 1 {
		t.Errorf("the scenario is not what the test means: %+v", f)
	}

	// Refused: tampered, expired, for another day, a handler's.
	u := links[d.boss.ID]
	q := u.Query()
	sig := q.Get("sig")
	flip := "A"
	if strings.HasSuffix(sig, "A") {
		flip = "B"
	}
	tampered := url.Values{"sig": {sig[:len(sig)-1] + flip}}
	for name, path := range map[string]string{
		"tampered":      u.Path + "?" + tampered.Encode(),
		"another day":   "/d/2026-12-01?" + q.Encode(),
		"no signature":  u.Path,
		"handler's":     d.digestLinks.DigestURL("2026-12-02", d.zhang.ID, clock)[len(d.digestLinks.PublicURL):],
		"another's sig": u.Path + "?sig=" + url.QueryEscape(strings.Replace(sig, "."+strconv.FormatInt(d.boss.ID, 10)+".", "."+strconv.FormatInt(d.clerk.ID, 10)+".", 1)),
	} {
		if rec := get(path); rec.Code != http.StatusForbidden {
			t.Errorf("%s link: %d, want 403", name, rec.Code)
		}
	}
	clock = now.Add(DefaultLinkTTL + time.Hour)
	if rec := get(u.RequestURI()); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "过期") {
		t.Errorf("expired link: %d", rec.Code)
	}
}
