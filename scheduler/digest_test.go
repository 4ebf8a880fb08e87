package scheduler_test

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/scheduler"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

// The morning digest: one push per leader and office member who can receive
// it, their scope's figures in it; the cron's run is once per day, the
// on-demand command reaches only whoever has not had that day's.
func TestDigestOncePerPersonAndDay(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	morning := at(2026, 12, 2, 8, 30)
	o := standardOptions(storagetest.Calendar(t))
	o.Clock = func() time.Time { return morning }
	sc := newScheduler(t, s, o)

	d.create(t, "N1", "longshan", at(2026, 12, 1, 9, 0))  // received yesterday
	d.create(t, "N2", "nanhu", at(2026, 12, 1, 10, 0))    // received yesterday
	d.create(t, "N3", "longshan", at(2026, 11, 20, 9, 0)) // overdue since 11-27
	n4 := d.create(t, "N4", "longshan", at(2026, 11, 30, 9, 0))
	d.act(t, n4, d.li, hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已办"}, at(2026, 12, 1, 15, 0))

	before := lastOutboxID(t, s)
	if err := sc.RunDigestJob(bg, morning); err != nil {
		t.Fatal(err)
	}
	if err := sc.RunDigestJob(bg, morning.Add(time.Minute)); err != nil { // another replica's cron, a minute late
		t.Fatal(err)
	}
	rows := outboxAfter(t, s, before)
	got := map[string]hotlinebot.TemplateData{}
	for _, r := range rows {
		if r.Kind != "digest" {
			t.Errorf("digest run queued a %s push to %s", r.Kind, d.names[r.PersonID])
			continue
		}
		if r.Key != "digest:"+strconv.FormatInt(r.PersonID, 10)+":2026-12-02" {
			t.Errorf("digest key %q", r.Key)
		}
		got[d.names[r.PersonID]] = r.data(t)
	}
	var who []string
	for name := range got {
		who = append(who, name)
	}
	sort.Strings(who)
	// 南湖's leader never bound; handlers get no digest.
	if len(rows) != 3 || len(got) != 3 || got["赵主任"].Date == "" || got["钱办事员"].Date == "" || got["孙区长"].Date == "" {
		t.Fatalf("digest pushes to %v (%d rows), want 赵主任, 钱办事员, 孙区长 once each", who, len(rows))
	}
	district, err := s.Digest(bg, morning, morning, "")
	if err != nil {
		t.Fatal(err)
	}
	longshan, err := s.Digest(bg, morning, morning, "longshan")
	if err != nil {
		t.Fatal(err)
	}
	if district.Received != 2 || district.Completed != 1 || district.Open != 3 || district.Overdue != 1 || longshan.Open != 2 {
		t.Fatalf("figures: district %+v, longshan %+v", district.DigestFigures, longshan.DigestFigures)
	}
	for name, want := range map[string]storage.Digest{"赵主任": longshan, "钱办事员": district, "孙区长": district} {
		data := got[name]
		if data.Date != "2026年12月02日" || data.Count != strconv.Itoa(want.Open) || data.Note != scheduler.DigestLine(want.DigestFigures) {
			t.Errorf("%s's digest = %+v, want the figures of %q", name, data, want.DepartmentName)
		}
	}
	if got["赵主任"].Department != "龙山管理处" || got["孙区长"].Department != "全区" {
		t.Errorf("scopes: %q, %q", got["赵主任"].Department, got["孙区长"].Department)
	}

	// 南湖's leader binds; `hotlinebot digest` sends the day's to them only.
	bindPerson(t, s, d.nhLeader.ID)
	before = lastOutboxID(t, s)
	run, err := sc.Digest(bg, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rows = outboxAfter(t, s, before)
	if run.Queued != 1 || len(rows) != 1 || rows[0].PersonID != d.nhLeader.ID || rows[0].data(t).Department != "南湖街道办事处" {
		t.Errorf("on demand: %+v, rows %+v", run, rows)
	}
	// Another day on demand: everyone's for that day.
	run, err = sc.Digest(bg, at(2026, 12, 1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if run.Queued != 4 || run.Day.Format(time.DateOnly) != "2026-12-01" {
		t.Errorf("digest of 12-01 on demand: %+v", run)
	}
	// Tomorrow's is refused: it has no figures, and tomorrow's cron would
	// find the day done.
	before = lastOutboxID(t, s)
	if _, err := sc.Digest(bg, at(2026, 12, 3, 0, 0)); hotlinebot.ErrorCodeOf(err) != hotlinebot.EINVALID || !strings.Contains(err.Error(), "2026-12-03 还没到") {
		t.Errorf("digest of 12-03 on 12-02 = %v, want refused", err)
	}
	if rows := outboxAfter(t, s, before); len(rows) != 0 {
		t.Errorf("a refused digest queued %d pushes", len(rows))
	}
	if err := sc.RunDigestJob(bg, at(2026, 12, 3, 8, 30)); err != nil {
		t.Fatal(err)
	}
	if rows := outboxAfter(t, s, before); len(rows) != 4 {
		t.Errorf("12-03's cron queued %d digests, want 4", len(rows))
	}
}

// `hotlinebot digest --date D` for a past day sends that day's figures, as
// of its end, the same as the page its push links to (GET /d/D shows a past
// day as of its end): not today's open tickets under yesterday's date.
func TestDigestOfAPastDayOnDemandShowsThatDay(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	now := at(2026, 12, 2, 8, 30)
	o := standardOptions(storagetest.Calendar(t))
	o.Clock = func() time.Time { return now }
	sc := newScheduler(t, s, o)

	p1 := d.create(t, "P1", "longshan", at(2026, 11, 30, 9, 0))                                                     // received the day before, open all of 12-01
	d.act(t, p1, d.zhang, hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已办"}, at(2026, 12, 2, 8, 0)) // done this morning
	d.create(t, "P2", "longshan", at(2026, 12, 2, 8, 10))                                                           // received this morning:
	d.create(t, "P3", "longshan", at(2026, 12, 2, 8, 20))                                                           // 2 open now, 1 on 12-01

	day := at(2026, 12, 1, 0, 0)
	before := lastOutboxID(t, s)
	if _, err := sc.Digest(bg, day); err != nil {
		t.Fatal(err)
	}
	thatDay, err := s.Digest(bg, day, at(2026, 12, 2, 0, 0), "longshan") // what /d/2026-12-01 shows
	if err != nil {
		t.Fatal(err)
	}
	if thatDay.Open != 1 || thatDay.Received != 1 {
		t.Fatalf("12-01's digest of 龙山 as of its end: %+v, want P1 received the day before and open", thatDay.DigestFigures)
	}
	var found bool
	for _, r := range outboxAfter(t, s, before) {
		if r.PersonID != d.lsLeader.ID {
			continue
		}
		found = true
		data := r.data(t)
		if data.Date != "2026年12月01日" || data.Count != "1" || data.Note != scheduler.DigestLine(thatDay.DigestFigures) {
			t.Errorf("赵主任's digest of 12-01 = %+v, want the figures of 12-01 (%q, 1 open)", data, scheduler.DigestLine(thatDay.DigestFigures))
		}
	}
	if !found {
		t.Fatal("no digest of 12-01 for 赵主任")
	}
}

// A ticket the office closed yesterday without an outcome (a duplicate) left
// the open ones: the digest counts it among those finished yesterday, as the
// report counts closed tickets as completed, so the leader's figures add up.
func TestDigestCountsATicketClosedYesterday(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	dup := d.create(t, "C1", "longshan", at(2026, 11, 30, 9, 0))
	office := hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelCLI}
	if _, err := s.Act(bg, dup.Ref(), office, hotlinebot.Command{Action: hotlinebot.ActionClose, Note: "重复工单"}, at(2026, 12, 1, 15, 0)); err != nil {
		t.Fatal(err)
	}
	done := d.create(t, "C2", "longshan", at(2026, 11, 20, 9, 0)) // completed long ago, closed yesterday after the visit
	d.act(t, done, d.zhang, hotlinebot.Command{Action: hotlinebot.ActionComplete, Note: "已办"}, at(2026, 11, 25, 9, 0))
	if _, err := s.Act(bg, done.Ref(), office, hotlinebot.Command{Action: hotlinebot.ActionFollowUp, Result: hotlinebot.FollowUpSatisfied}, at(2026, 12, 1, 16, 0)); err != nil {
		t.Fatal(err)
	}
	for _, dept := range []string{"", "longshan"} {
		dg, err := s.Digest(bg, at(2026, 12, 2, 0, 0), at(2026, 12, 2, 8, 30), dept)
		if err != nil {
			t.Fatal(err)
		}
		if dg.Completed != 1 || dg.Open != 0 {
			t.Errorf("digest of 12-02 (%q): completed %d, open %d; want C1 closed yesterday (1), none open", dept, dg.Completed, dg.Open)
		}
	}
}

// The digest push's note goes into a template's thing field, 20 characters:
// a longer one is cut, which could cut a number ("昨收12…" for 123). The
// line keeps the figures that fit, whole, the most urgent first.
func TestDigestLineFitsAThingField(t *testing.T) {
	for _, c := range []struct {
		f    storage.DigestFigures
		want string
	}{
		{storage.DigestFigures{Overdue: 2, Open: 40, DueToday: 3, Received: 123, Completed: 9, FollowUps: 20, Satisfied: 19}, "超期2 在办40 今日到期3 昨收123"},
		{storage.DigestFigures{Overdue: 0, Open: 4, DueToday: 1, Received: 2, Completed: 1, FollowUps: 2, Satisfied: 2}, "超期0 在办4 今日到期1 昨收2"},
		{storage.DigestFigures{Overdue: 12, Open: 140, DueToday: 13, Received: 22, Completed: 19}, "超期12 在办140 今日到期13"},
	} {
		got := scheduler.DigestLine(c.f)
		if got != c.want {
			t.Errorf("DigestLine(%+v) = %q, want %q", c.f, got, c.want)
		}
		if n := utf8.RuneCountInString(got); n > 20 {
			t.Errorf("%q has %d characters, a thing field takes 20", got, n)
		}
	}
}

// The office sends the day's digest by hand before the cron's moment; a
// leader who binds in between still gets the morning's at 08:30, and nobody
// gets it twice.
func TestDigestOnDemandLeavesTheMorningRun(t *testing.T) {
	s := storagetest.NewStore(t)
	d := newDistrict(t, s)
	early := at(2026, 12, 2, 7, 0)
	o := standardOptions(storagetest.Calendar(t))
	o.Clock = func() time.Time { return early }
	sc := newScheduler(t, s, o)
	d.create(t, "M1", "nanhu", at(2026, 12, 1, 9, 0))

	before := lastOutboxID(t, s)
	if run, err := sc.Digest(bg, time.Time{}); err != nil || run.Queued != 3 {
		t.Fatalf("digest at 07:00 = %+v, %v; want 赵主任, 钱办事员 and 孙区长", run, err)
	}
	bindPerson(t, s, d.nhLeader.ID)
	if err := sc.RunDigestJob(bg, at(2026, 12, 2, 8, 30)); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range outboxAfter(t, s, before) {
		got[d.names[r.PersonID]]++
	}
	if len(got) != 4 || got["周主任"] != 1 || got["赵主任"] != 1 || got["钱办事员"] != 1 || got["孙区长"] != 1 {
		t.Errorf("digests of 12-02: %v, want one each to 赵主任, 钱办事员, 孙区长 and 周主任 (bound at 08:00)", got)
	}
}
