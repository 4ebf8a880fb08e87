package storage

// The daily digest's figures, computed with set-based SQL and shared by the
// morning push (scheduler) and the page it links to (bot, GET /d/{date}).

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
)

// DigestFigures are the numbers of one digest, for the district or one
// department.
type DigestFigures struct {
	Received  int `db:"received" json:"received"`   // tickets received the day before
	Completed int `db:"completed" json:"completed"` // tickets completed (or closed) the day before
	Open      int `db:"open" json:"open"`           // not yet completed, as of AsOf
	DueToday  int `db:"due_today" json:"due_today"` // open, with the 办理 deadline on the day
	Overdue   int `db:"overdue" json:"overdue"`     // open past the 办理 deadline, as of AsOf
	FollowUps int `db:"followups" json:"followups"` // follow-up visits this month up to AsOf
	Satisfied int `db:"satisfied" json:"satisfied"` // of which 满意 or 基本满意
}

// SatisfactionRate is Satisfied / FollowUps (0 without follow-ups).
func (f DigestFigures) SatisfactionRate() float64 { return hotlinebot.Rate(f.Satisfied, f.FollowUps) }

func (f *DigestFigures) add(g DigestFigures) {
	f.Received += g.Received
	f.Completed += g.Completed
	f.Open += g.Open
	f.DueToday += g.DueToday
	f.Overdue += g.Overdue
	f.FollowUps += g.FollowUps
	f.Satisfied += g.Satisfied
}

// DepartmentDigest is one department's line of the digest. Code is "" for
// the tickets that wait for the office to dispatch them (待分派).
type DepartmentDigest struct {
	Code string `db:"code" json:"code"`
	Name string `db:"name" json:"name"`
	DigestFigures
}

// OverdueTicket is one of the oldest overdue tickets the digest names.
type OverdueTicket struct {
	ID             int64     `db:"id" json:"id"`
	Title          string    `db:"title" json:"title"`
	Department     string    `db:"department" json:"department"`
	DepartmentName string    `db:"department_name" json:"department_name"`
	DueAt          time.Time `db:"due_at" json:"due_at"`
}

// Ref is how people name the ticket: "#37".
func (t OverdueTicket) Ref() string { return "#" + strconv.FormatInt(t.ID, 10) }

// Digest is the daily digest of Day as of AsOf, for the whole district
// (Department "") or one department.
type Digest struct {
	Day            time.Time // midnight of the day, in the calendar's location
	AsOf           time.Time
	Department     string // code; "" for the district
	DepartmentName string
	DigestFigures
	// Departments are the district's lines, one per department (and one for
	// 待分派 when tickets wait there); empty for a department's digest.
	Departments []DepartmentDigest
	// Oldest are up to OldestOverdue overdue tickets, the longest overdue first.
	Oldest []OverdueTicket
}

// OldestOverdue is how many overdue tickets a digest names.
const OldestOverdue = 5

// digestOpen is "not yet completed as of asOf" over tickets t, asOf naming
// the parameter. It goes by the ticket's times rather than its status, so a
// past day's page shows that day's evening.
func digestOpen(asOf string) string {
	return `(t.received_at <= ` + asOf + ` AND (t.completed_at IS NULL OR t.completed_at > ` + asOf + `)
	AND (t.closed_at IS NULL OR t.closed_at > ` + asOf + `))`
}

// Digest computes the digest of day (any moment of it; the day is taken in
// the calendar's location) as of asOf, for department (a code; "" for the
// district with a line per department). Received and completed count the day
// before; due today counts the day itself; open and overdue are as of asOf;
// the satisfaction counts the follow-up visits of the day's month up to asOf.
func (s *Store) Digest(ctx context.Context, day, asOf time.Time, department string) (Digest, error) {
	return s.digest(ctx, s.db, day, asOf, department)
}

func (s *Store) digest(ctx context.Context, q sqlx.QueryerContext, day, asOf time.Time, department string) (Digest, error) {
	loc := s.location()
	y, m, d := day.In(loc).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	yesterday := start.AddDate(0, 0, -1)
	end := start.AddDate(0, 0, 1)
	month := time.Date(y, m, 1, 0, 0, 0, 0, loc)
	dg := Digest{Day: start, AsOf: asOf, Department: department}
	if department != "" {
		dep, err := s.Department(ctx, department)
		if err != nil {
			return dg, err
		}
		dg.Department, dg.DepartmentName = dep.Code, dep.Name
	}

	// One pass over the tickets per department ($1 yesterday, $2 the day's
	// start, $3 its end, $4 the month's start, $5 asOf), the follow-ups
	// counted from their events so that every visit counts, not only the latest.
	// Completed is as the report counts it: completed, or closed by the
	// office without an outcome (a duplicate), when it left the open ones.
	var lines []DepartmentDigest
	err := sqlx.SelectContext(ctx, q, &lines,
		`WITH per AS (
		   SELECT t.department_id,
		     count(*) FILTER (WHERE t.received_at >= $1 AND t.received_at < $2) AS received,
		     count(*) FILTER (WHERE coalesce(t.completed_at, t.closed_at) >= $1 AND coalesce(t.completed_at, t.closed_at) < $2) AS completed,
		     count(*) FILTER (WHERE `+digestOpen("$5")+`) AS open,
		     count(*) FILTER (WHERE `+digestOpen("$5")+` AND t.due_at >= $2 AND t.due_at < $3) AS due_today,
		     count(*) FILTER (WHERE `+digestOpen("$5")+` AND t.due_at < $5) AS overdue
		   FROM tickets t
		   WHERE t.received_at <= $5 AND (coalesce(t.completed_at, t.closed_at) IS NULL OR coalesce(t.completed_at, t.closed_at) >= $1)
		   GROUP BY t.department_id
		 ), visits AS (
		   SELECT t.department_id, count(*) AS followups,
		     count(*) FILTER (WHERE e.data->>'result' IN ('satisfied', 'basic')) AS satisfied
		   FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
		   WHERE e.action = 'follow_up' AND e.at >= $4 AND e.at <= $5
		   GROUP BY t.department_id
		 )
		 SELECT coalesce(d.code, '') AS code, coalesce(d.name, '待分派') AS name,
		   coalesce(per.received, 0) AS received, coalesce(per.completed, 0) AS completed,
		   coalesce(per.open, 0) AS open, coalesce(per.due_today, 0) AS due_today,
		   coalesce(per.overdue, 0) AS overdue,
		   coalesce(visits.followups, 0) AS followups, coalesce(visits.satisfied, 0) AS satisfied
		 FROM departments d
		 FULL JOIN per ON per.department_id = d.id
		 FULL JOIN visits ON visits.department_id = coalesce(d.id, per.department_id)
		 WHERE ($6 = '' OR d.code = $6)
		 ORDER BY d.id NULLS LAST`,
		yesterday, start, end, month, asOf, department)
	if err != nil {
		return dg, fmt.Errorf("storage: digest figures: %w", err)
	}
	var unrouted *DepartmentDigest
	for i := range lines {
		dg.DigestFigures.add(lines[i].DigestFigures)
		if lines[i].Code == "" {
			if unrouted == nil {
				unrouted = &lines[i]
			} else {
				unrouted.DigestFigures.add(lines[i].DigestFigures)
			}
			continue
		}
		if department == "" {
			dg.Departments = append(dg.Departments, lines[i])
		}
	}
	if department == "" && unrouted != nil && unrouted.DigestFigures != (DigestFigures{}) {
		dg.Departments = append(dg.Departments, *unrouted)
	}

	err = sqlx.SelectContext(ctx, q, &dg.Oldest,
		`SELECT t.id, t.title, coalesce(d.code, '') AS department, coalesce(d.name, '') AS department_name, t.due_at
		 FROM tickets t LEFT JOIN departments d ON d.id = t.department_id
		 WHERE `+digestOpen("$1")+` AND t.due_at < $1 AND ($2 = '' OR d.code = $2)
		 ORDER BY t.due_at, t.id LIMIT `+strconv.Itoa(OldestOverdue),
		asOf, department)
	if err != nil {
		return dg, fmt.Errorf("storage: oldest overdue: %w", err)
	}
	return dg, nil
}

// DigestRun says what one run of the daily digest did.
type DigestRun struct {
	Day        time.Time
	People     int  // leaders and office members who can receive it
	Queued     int  // pushes queued now (0 for those queued by an earlier run)
	AlreadyRan bool // once: an earlier run had done the day; nothing was done
}

// DigestLockID is the advisory lock under which the digest of a day is
// queued, so that the replicas' cron jobs firing together compute it once.
const DigestLockID = 0x686c62646967 // "hlbdig"

// QueueDigest queues the digest of day as of now (as of the day's end for a
// past day, as its page shows it): one `digest` push per
// leader and office member who can receive it (dedupe key
// digest:<person>:<date>, so a person gets one per day however often this
// runs), its data built by build from the person and the digest of their
// scope (their department for a department's leader, the district with a
// line per department for district leaders and the office). It runs in one
// transaction under pg_advisory_xact_lock. With once, a day already done (a
// scheduler_runs row) is left alone, and the run writes that row: that is
// the cron job's way. The on-demand command passes once=false: it reaches
// whoever has not had the day's digest and leaves the row to the cron, so
// that a digest asked for at 07:00 does not keep the 08:30 one from a
// leader bound in between.
func (s *Store) QueueDigest(ctx context.Context, day, now time.Time, once bool,
	build func(p hotlinebot.Person, d Digest) hotlinebot.TemplateData) (DigestRun, error) {
	loc := s.location()
	y, m, d := day.In(loc).Date()
	run := DigestRun{Day: time.Date(y, m, d, 0, 0, 0, 0, loc)}
	date := run.Day.Format(time.DateOnly)
	asOf := now
	if end := run.Day.AddDate(0, 0, 1); end.Before(now) {
		asOf = end
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(DigestLockID)); err != nil {
			return fmt.Errorf("storage: digest lock: %w", err)
		}
		if once {
			var done bool
			if err := tx.GetContext(ctx, &done,
				`SELECT EXISTS (SELECT 1 FROM scheduler_runs WHERE job = 'digest' AND day = $1)`, date); err != nil {
				return fmt.Errorf("storage: digest run: %w", err)
			}
			if done {
				run.AlreadyRan = true
				return nil
			}
		}
		var rows []personRow
		if err := tx.SelectContext(ctx, &rows,
			`SELECT `+personColumns+` FROM people p LEFT JOIN departments d ON d.id = p.department_id
			 WHERE p.role IN ('leader', 'office') AND NOT p.disabled AND p.reachable AND p.openid IS NOT NULL
			 ORDER BY p.id`); err != nil {
			return fmt.Errorf("storage: digest recipients: %w", err)
		}
		run.People = len(rows)
		scopes := map[string]Digest{}
		for _, r := range rows {
			p := r.person()
			scope := ""
			if p.Role == hotlinebot.RoleLeader && p.Department != "" {
				scope = p.Department
			}
			dg, ok := scopes[scope]
			if !ok {
				var err error
				if dg, err = s.digest(ctx, tx, run.Day, asOf, scope); err != nil {
					return err
				}
				scopes[scope] = dg
			}
			data := build(p, dg)
			if data.Date == "" {
				data.Date = run.Day.Format(hotlinebot.LayoutDate)
			}
			js, err := json.Marshal(data)
			if err != nil {
				return fmt.Errorf("storage: digest data: %w", err)
			}
			res, err := tx.ExecContext(ctx,
				`INSERT INTO outbox (dedupe_key, kind, person_id, digest_date, data, next_attempt_at, created_at)
				 VALUES ($1, 'digest', $2, $3, $4, $5, $5) ON CONFLICT (dedupe_key) DO NOTHING`,
				"digest:"+strconv.FormatInt(p.ID, 10)+":"+date, p.ID, date, string(js), now)
			if err != nil {
				return fmt.Errorf("storage: queue digest: %w", err)
			}
			if k, _ := res.RowsAffected(); k == 1 {
				run.Queued++
			}
		}
		if !once {
			return nil
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO scheduler_runs (job, day, ran_at, queued) VALUES ('digest', $1, $2, $3)`,
			date, now, run.Queued); err != nil {
			return fmt.Errorf("storage: record digest run: %w", err)
		}
		return nil
	})
	if err != nil {
		return DigestRun{}, err
	}
	s.notifyOutbox(run.Queued)
	return run, nil
}
