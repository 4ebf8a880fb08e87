package storage_test

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

func TestDepartments(t *testing.T) {
	s := storagetest.NewStore(t)
	ls := mustDept(t, s, "longshan", "龙山管理处")
	mustDept(t, s, "nanhu", "南湖街道办事处")

	_, err := s.CreateDepartment(ctx, hotlinebot.Department{Code: "longshan", Name: "别的名字"})
	wantCode(t, err, hotlinebot.ECONFLICT, "longshan")
	_, err = s.CreateDepartment(ctx, hotlinebot.Department{Code: "other", Name: "龙山管理处"})
	wantCode(t, err, hotlinebot.ECONFLICT, "龙山管理处")
	_, err = s.CreateDepartment(ctx, hotlinebot.Department{Code: "x"})
	wantCode(t, err, hotlinebot.EINVALID, "name")

	for _, key := range []string{"longshan", "龙山管理处", " longshan "} {
		d, err := s.Department(ctx, key)
		if err != nil || d != ls {
			t.Errorf("Department(%q) = %+v, %v; want %+v", key, d, err, ls)
		}
	}
	_, err = s.Department(ctx, "nowhere")
	wantCode(t, err, hotlinebot.ENOTFOUND, "nowhere")

	ds, err := s.ListDepartments(ctx)
	if err != nil || len(ds) != 2 || ds[0].Code != "longshan" || ds[1].Code != "nanhu" {
		t.Fatalf("ListDepartments = %+v, %v", ds, err)
	}
}

func TestCreatePersonValidatesRoleAndDepartment(t *testing.T) {
	s := storagetest.NewStore(t)
	mustDept(t, s, "longshan", "龙山管理处")

	cases := []struct {
		name     string
		p        hotlinebot.Person
		code     hotlinebot.ErrorCode
		mentions string
		dept     string
	}{
		{"handler needs a department", hotlinebot.Person{Name: "张三", Role: hotlinebot.RoleHandler}, hotlinebot.EINVALID, "department", ""},
		{"office has none", hotlinebot.Person{Name: "钱", Role: hotlinebot.RoleOffice, Department: "longshan"}, hotlinebot.EINVALID, "department", ""},
		{"unknown department", hotlinebot.Person{Name: "张三", Role: hotlinebot.RoleHandler, Department: "nowhere"}, hotlinebot.EINVALID, "nowhere", ""},
		{"bad role", hotlinebot.Person{Name: "张三", Role: "boss"}, hotlinebot.EINVALID, "role", ""},
		{"no name", hotlinebot.Person{Role: hotlinebot.RoleOffice}, hotlinebot.EINVALID, "name", ""},
		{"handler by department name", hotlinebot.Person{Name: "张三", Role: "承办人", Department: "龙山管理处", Phone: "13800000000"}, "", "", "longshan"},
		{"department leader", hotlinebot.Person{Name: "赵", Role: hotlinebot.RoleLeader, Department: "longshan"}, "", "", "longshan"},
		{"district leader", hotlinebot.Person{Name: "孙", Role: hotlinebot.RoleLeader}, "", "", ""},
		{"office", hotlinebot.Person{Name: "钱", Role: hotlinebot.RoleOffice}, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := s.CreatePerson(ctx, c.p, t0)
			if c.code != "" {
				wantCode(t, err, c.code, c.mentions)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.ID == 0 || p.Department != c.dept || p.Reachable || p.Disabled || !p.CreatedAt.Equal(t0) {
				t.Fatalf("created %+v", p)
			}
			got, err := s.Person(ctx, p.ID)
			if err != nil || got.Name != p.Name || got.Role != p.Role || got.Department != c.dept || got.Phone != c.p.Phone {
				t.Fatalf("Person(%d) = %+v, %v; want %+v", p.ID, got, err, p)
			}
		})
	}
	if p, err := s.Person(ctx, 999); err == nil {
		t.Fatalf("Person(999) = %+v", p)
	} else {
		wantCode(t, err, hotlinebot.ENOTFOUND)
	}
}

func TestListPeopleAndOpenID(t *testing.T) {
	f := newFixture(t)
	s := f.s
	all, err := s.ListPeople(ctx, storage.PeopleFilter{})
	if err != nil || len(all) != 6 {
		t.Fatalf("ListPeople = %d, %v; want 6", len(all), err)
	}
	hs, err := s.ListPeople(ctx, storage.PeopleFilter{Department: "龙山管理处", Role: hotlinebot.RoleHandler})
	if err != nil || len(hs) != 2 || hs[0].ID != f.zhang.ID || hs[1].ID != f.li.ID {
		t.Fatalf("longshan handlers = %+v, %v", hs, err)
	}
	page, err := s.ListPeople(ctx, storage.PeopleFilter{After: f.zhang.ID, Limit: 2})
	if err != nil || len(page) != 2 || page[0].ID != f.li.ID || page[1].ID != f.wang.ID {
		t.Fatalf("page after %d = %+v, %v", f.zhang.ID, page, err)
	}

	p, err := s.PersonByOpenID(ctx, openID(f.zhang.ID))
	if err != nil || p.ID != f.zhang.ID || !p.Reachable || p.Department != "longshan" {
		t.Fatalf("PersonByOpenID = %+v, %v", p, err)
	}
	_, err = s.PersonByOpenID(ctx, "stranger")
	wantCode(t, err, hotlinebot.ENOTFOUND)

	if err := s.DisablePerson(ctx, f.zhang.ID, office, t0); err != nil {
		t.Fatal(err)
	}
	_, err = s.PersonByOpenID(ctx, openID(f.zhang.ID))
	wantCode(t, err, hotlinebot.ENOTFOUND)
	p, _ = s.Person(ctx, f.zhang.ID)
	if !p.Disabled || p.Reachable || p.OpenID != "" {
		t.Fatalf("disabled person = %+v", p)
	}
}

func TestMoveAndUnbindPerson(t *testing.T) {
	f := newFixture(t)
	s := f.s
	if err := s.MovePerson(ctx, f.zhang.ID, "南湖街道办事处", office, t0); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Person(ctx, f.zhang.ID); p.Department != "nanhu" {
		t.Fatalf("moved person in %q", p.Department)
	}
	wantCode(t, s.MovePerson(ctx, f.clerk.ID, "nanhu", office, t0), hotlinebot.EINVALID, "department")
	wantCode(t, s.MovePerson(ctx, f.li.ID, "nowhere", office, t0), hotlinebot.EINVALID, "nowhere")
	wantCode(t, s.MovePerson(ctx, 999, "nanhu", office, t0), hotlinebot.ENOTFOUND)

	if err := s.UnbindPerson(ctx, f.li.ID, office, t0); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Person(ctx, f.li.ID); p.OpenID != "" || p.Reachable || !p.BoundAt.IsZero() || p.Disabled {
		t.Fatalf("unbound person = %+v", p)
	}
}

func TestIssueBindCode(t *testing.T) {
	f := newFixture(t)
	s := f.s
	bc, err := s.IssueBindCode(ctx, f.wang.ID, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9]{8}$`).MatchString(bc.Code) || bc.Scene != "bind:"+bc.Code ||
		bc.PersonID != f.wang.ID || !bc.ExpiresAt.Equal(t0.Add(7*24*time.Hour)) {
		t.Fatalf("bind code = %+v", bc)
	}
	sum := sha256.Sum256([]byte(bc.Code))
	if storage.HashBindCode(bc.Code) != hex.EncodeToString(sum[:]) {
		t.Fatal("HashBindCode is not the hex sha256 of the code")
	}
	var stored []string
	if err := s.DB().SelectContext(ctx, &stored, `SELECT code_hash FROM bind_codes`); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0] != hex.EncodeToString(sum[:]) {
		t.Fatalf("stored %v: want only the hash", stored)
	}

	// A new code voids the old one.
	bc2, err := s.IssueBindCode(ctx, f.wang.ID, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var live int
	if err := s.DB().GetContext(ctx, &live,
		`SELECT count(*) FROM bind_codes WHERE person_id = $1 AND used_at IS NULL AND expires_at > $2`,
		f.wang.ID, t0.Add(2*time.Minute)); err != nil || live != 1 {
		t.Fatalf("%d live codes (%v), want 1", live, err)
	}
	if bc2.Code == bc.Code {
		t.Log("same code drawn twice (1 in 10^8)")
	}

	if err := s.DisablePerson(ctx, f.wang.ID, office, t0); err != nil {
		t.Fatal(err)
	}
	_, err = s.IssueBindCode(ctx, f.wang.ID, t0)
	wantCode(t, err, hotlinebot.ECONFLICT)
	_, err = s.IssueBindCode(ctx, 999, t0)
	wantCode(t, err, hotlinebot.ENOTFOUND)
}
