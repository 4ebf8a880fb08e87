package storage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
)

// PeopleFilter selects people for lists.
type PeopleFilter struct {
	Department string // code or name
	Role       hotlinebot.Role
	After      int64
	Limit      int // 0 → 100, at most 1000
}

// BindCode is a freshly issued one-time binding code; Code is shown once and
// only its hash is stored.
type BindCode struct {
	PersonID  int64
	Code      string
	Scene     string // the QR_STR_SCENE value, "bind:<code>"
	ExpiresAt time.Time
}

// BindCodeValidity is how long a bind code can be used.
const BindCodeValidity = 7 * 24 * time.Hour

// HashBindCode is how a bind code is stored and looked up: the hex sha256 of
// the code as the person types it (spaces trimmed).
func HashBindCode(code string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(code)))
	return hex.EncodeToString(sum[:])
}

type personRow struct {
	ID            int64          `db:"id"`
	Name          string         `db:"name"`
	Role          string         `db:"role"`
	Department    sql.NullString `db:"department"`
	Phone         string         `db:"phone"`
	OpenID        sql.NullString `db:"openid"`
	Reachable     bool           `db:"reachable"`
	Disabled      bool           `db:"disabled"`
	CreatedAt     time.Time      `db:"created_at"`
	BoundAt       sql.NullTime   `db:"bound_at"`
	UnreachableAt sql.NullTime   `db:"unreachable_at"`
}

func (r personRow) person() hotlinebot.Person {
	return hotlinebot.Person{
		ID:          r.ID,
		Name:        r.Name,
		Role:        hotlinebot.Role(r.Role),
		Department:  r.Department.String,
		Phone:       r.Phone,
		OpenID:      r.OpenID.String,
		Reachable:   r.Reachable,
		Disabled:    r.Disabled,
		CreatedAt:   r.CreatedAt,
		BoundAt:     fromNullTime(r.BoundAt),
		Unreachable: fromNullTime(r.UnreachableAt),
	}
}

const personColumns = `p.id, p.name, p.role, d.code AS department, p.phone, p.openid, p.reachable,
	p.disabled, p.created_at, p.bound_at, p.unreachable_at`

const personFrom = ` FROM people p LEFT JOIN departments d ON d.id = p.department_id `

// personDepartment checks role against department (code or name) and returns
// the department's id (0 for none).
func personDepartment(ctx context.Context, q sqlx.QueryerContext, role hotlinebot.Role, dept string) (int64, string, error) {
	dept = strings.TrimSpace(dept)
	switch role {
	case hotlinebot.RoleHandler:
		if dept == "" {
			return 0, "", hotlinebot.Errorf(hotlinebot.EINVALID, "承办人必须属于一个单位：请填写单位（department）")
		}
	case hotlinebot.RoleOffice:
		if dept != "" {
			return 0, "", hotlinebot.Errorf(hotlinebot.EINVALID, "热线办人员不属于任何单位：请不要填写单位（department）")
		}
		return 0, "", nil
	case hotlinebot.RoleLeader:
		if dept == "" {
			return 0, "", nil // a district leader
		}
	}
	d, err := department(ctx, q, dept)
	if err != nil {
		if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
			return 0, "", hotlinebot.Errorf(hotlinebot.EINVALID, "单位（department）%s 不存在", dept)
		}
		return 0, "", err
	}
	return d.ID, d.Code, nil
}

// CreatePerson adds a handler, leader or office member. A handler needs a
// department, the office has none, a leader without one leads the district.
func (s *Store) CreatePerson(ctx context.Context, p hotlinebot.Person, now time.Time) (hotlinebot.Person, error) {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		return p, hotlinebot.Errorf(hotlinebot.EINVALID, "缺少姓名（name）")
	}
	role, err := hotlinebot.ParseRole(string(p.Role))
	if err != nil {
		return p, hotlinebot.Errorf(hotlinebot.EINVALID, "角色（role）%q 无效：应为 handler（承办人）、leader（领导）或 office（热线办）", p.Role)
	}
	p.Role = role
	deptID, code, err := personDepartment(ctx, s.db, p.Role, p.Department)
	if err != nil {
		return p, err
	}
	p.Department = code
	p.Phone = strings.TrimSpace(p.Phone)
	p.OpenID, p.Reachable, p.Disabled = "", false, false
	p.CreatedAt = now
	p.BoundAt, p.Unreachable = time.Time{}, time.Time{}
	err = s.db.GetContext(ctx, &p.ID,
		`INSERT INTO people (name, role, department_id, phone, created_at)
		 VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		p.Name, p.Role, nullInt(deptID), p.Phone, now)
	if err != nil {
		return p, fmt.Errorf("storage: create person: %w", err)
	}
	return p, nil
}

// ListPeople lists people by id, disabled ones included.
func (s *Store) ListPeople(ctx context.Context, f PeopleFilter) ([]hotlinebot.Person, error) {
	q := `SELECT ` + personColumns + personFrom + ` WHERE p.id > $1`
	args := []any{f.After}
	if f.Department != "" {
		args = append(args, strings.TrimSpace(f.Department))
		q += fmt.Sprintf(` AND (d.code = $%d OR d.name = $%[1]d)`, len(args))
	}
	if f.Role != "" {
		args = append(args, string(f.Role))
		q += fmt.Sprintf(` AND p.role = $%d`, len(args))
	}
	args = append(args, pageLimit(f.Limit))
	q += fmt.Sprintf(` ORDER BY p.id LIMIT $%d`, len(args))
	var rows []personRow
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: list people: %w", err)
	}
	people := make([]hotlinebot.Person, len(rows))
	for i, r := range rows {
		people[i] = personIn(r.person(), s.location())
	}
	return people, nil
}

// pageLimit is a list's page size: 100 by default, at most 1000.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// Person finds a person by id, disabled or not.
func (s *Store) Person(ctx context.Context, id int64) (hotlinebot.Person, error) {
	p, err := getPerson(ctx, s.db, id, false)
	return personIn(p, s.location()), err
}

// personIn shows p's times in loc.
func personIn(p hotlinebot.Person, loc *time.Location) hotlinebot.Person {
	p.CreatedAt, p.BoundAt, p.Unreachable = timeIn(p.CreatedAt, loc), timeIn(p.BoundAt, loc), timeIn(p.Unreachable, loc)
	return p
}

func getPerson(ctx context.Context, q sqlx.QueryerContext, id int64, forUpdate bool) (hotlinebot.Person, error) {
	var r personRow
	query := `SELECT ` + personColumns + personFrom + ` WHERE p.id = $1`
	if forUpdate {
		query += ` FOR UPDATE OF p`
	}
	err := sqlx.GetContext(ctx, q, &r, query, id)
	if notFound(err) {
		return hotlinebot.Person{}, hotlinebot.Errorf(hotlinebot.ENOTFOUND, "没有编号为 %d 的人员", id)
	}
	if err != nil {
		return hotlinebot.Person{}, fmt.Errorf("storage: person: %w", err)
	}
	return r.person(), nil
}

// PersonByOpenID finds the enabled person bound to openid; ENOTFOUND if none.
func (s *Store) PersonByOpenID(ctx context.Context, openid string) (hotlinebot.Person, error) {
	var r personRow
	err := s.db.GetContext(ctx, &r,
		`SELECT `+personColumns+personFrom+` WHERE p.openid = $1 AND NOT p.disabled`, openid)
	if notFound(err) || openid == "" {
		return hotlinebot.Person{}, hotlinebot.Errorf(hotlinebot.ENOTFOUND, "该微信号尚未绑定")
	}
	if err != nil {
		return hotlinebot.Person{}, fmt.Errorf("storage: person by openid: %w", err)
	}
	return personIn(r.person(), s.location()), nil
}

// DisablePerson: the person leaves. They can no longer act or be bound, their
// WeChat binding is dropped, and their open tickets go back to their
// department as dispatched (events recorded, handlers notified).
func (s *Store) DisablePerson(ctx context.Context, id int64, actor hotlinebot.Actor, now time.Time) error {
	return s.changePerson(ctx, id, actor, now, "已停用", func(tx *sqlx.Tx, p hotlinebot.Person) (bool, error) {
		_, err := tx.ExecContext(ctx,
			`UPDATE people SET disabled = true, openid = NULL, reachable = false WHERE id = $1`, id)
		return true, err
	})
}

// MovePerson moves a person to another department (code or name); their open
// tickets go back to the old department as DisablePerson.
func (s *Store) MovePerson(ctx context.Context, id int64, dept string, actor hotlinebot.Actor, now time.Time) error {
	return s.changePerson(ctx, id, actor, now, "已调离", func(tx *sqlx.Tx, p hotlinebot.Person) (bool, error) {
		if strings.TrimSpace(dept) == "" {
			return false, hotlinebot.Errorf(hotlinebot.EINVALID, "缺少要调往的单位（department）")
		}
		deptID, code, err := personDepartment(ctx, tx, p.Role, dept)
		if err != nil {
			return false, err
		}
		if code == p.Department {
			return false, nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE people SET department_id = $2 WHERE id = $1`, id, nullInt(deptID))
		return true, err
	})
}

// UnbindPerson forgets the person's openid (a new phone); open tickets as
// DisablePerson, since nobody can reach the person until they bind again.
func (s *Store) UnbindPerson(ctx context.Context, id int64, actor hotlinebot.Actor, now time.Time) error {
	return s.changePerson(ctx, id, actor, now, "已解绑微信", func(tx *sqlx.Tx, p hotlinebot.Person) (bool, error) {
		_, err := tx.ExecContext(ctx,
			`UPDATE people SET openid = NULL, reachable = false, bound_at = NULL WHERE id = $1`, id)
		return true, err
	})
}

// changePerson locks the person, applies change, and hands the person's open
// tickets back to their department, all in one transaction.
func (s *Store) changePerson(ctx context.Context, id int64, actor hotlinebot.Actor, now time.Time, why string,
	change func(tx *sqlx.Tx, p hotlinebot.Person) (returnTickets bool, err error)) error {
	queued := 0
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		p, err := getPerson(ctx, tx, id, true)
		if err != nil {
			return err
		}
		back, err := change(tx, p)
		if err != nil {
			if hotlinebot.ErrorCodeOf(err) != hotlinebot.EINTERNAL {
				return err
			}
			return fmt.Errorf("storage: change person %d: %w", id, err)
		}
		if !back {
			return nil
		}
		n, err := s.returnTicketsTx(ctx, tx, p, actor, now, why)
		queued = n
		return err
	})
	if err != nil {
		return err
	}
	s.notifyOutbox(queued)
	return nil
}

// returnTicketsTx sends p's open tickets back to their department as
// dispatched: a reassign to the same department by the system, keeping the
// channel the change came through.
func (s *Store) returnTicketsTx(ctx context.Context, tx *sqlx.Tx, p hotlinebot.Person, actor hotlinebot.Actor, now time.Time, why string) (int, error) {
	var ids []int64
	err := tx.SelectContext(ctx, &ids,
		`SELECT id FROM tickets WHERE assignee_id = $1 AND department_id IS NOT NULL
		   AND status IN ('dispatched', 'accepted', 'return_requested')
		 ORDER BY id FOR UPDATE`, p.ID)
	if err != nil {
		return 0, fmt.Errorf("storage: open tickets of person %d: %w", p.ID, err)
	}
	system := hotlinebot.Actor{Channel: actor.Channel}
	queued := 0
	for _, tid := range ids {
		t, err := loadTicket(ctx, tx, tid, true)
		if err != nil {
			return queued, err
		}
		cmd := hotlinebot.Command{
			Action:     hotlinebot.ActionReassign,
			Department: t.Department,
			Note:       fmt.Sprintf("承办人%s%s，工单退回本单位重新签收", p.Name, why),
		}
		_, n, err := s.applyTx(ctx, tx, t, system, cmd, now)
		if err != nil {
			return queued, fmt.Errorf("storage: return %s: %w", t.Ref(), err)
		}
		queued += n
	}
	return queued, nil
}

// IssueBindCode makes a one-time code of 8 digits for person id, valid 7 days.
// Codes issued before and not used are voided: the newest one counts.
func (s *Store) IssueBindCode(ctx context.Context, id int64, now time.Time) (BindCode, error) {
	var bc BindCode
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		p, err := getPerson(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if p.Disabled {
			return hotlinebot.Errorf(hotlinebot.ECONFLICT, "%s 已停用，不能绑定", p.Name)
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE bind_codes SET expires_at = $2 WHERE person_id = $1 AND used_at IS NULL AND expires_at > $2`,
			id, now); err != nil {
			return fmt.Errorf("storage: void bind codes: %w", err)
		}
		for attempt := 0; ; attempt++ {
			code, err := randomDigits(8)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx,
				`INSERT INTO bind_codes (code_hash, person_id, expires_at, created_at)
				 VALUES ($1, $2, $3, $4) ON CONFLICT (code_hash) DO NOTHING`,
				HashBindCode(code), id, now.Add(BindCodeValidity), now)
			if err != nil {
				return fmt.Errorf("storage: issue bind code: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				bc = BindCode{PersonID: id, Code: code, Scene: "bind:" + code, ExpiresAt: now.Add(BindCodeValidity)}
				return nil
			}
			if attempt > 10 {
				return errors.New("storage: issue bind code: no free code")
			}
		}
	})
	return bc, err
}

func randomDigits(n int) (string, error) {
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			return "", fmt.Errorf("storage: random: %w", err)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String(), nil
}
