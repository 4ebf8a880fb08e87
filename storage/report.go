package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/hotlinebot/hotlinebot"
)

// Report computes the report for tickets received on the days from..to
// (inclusive, in the calendar's location; the dates as from and to show them
// in their own location) as of now: everything from the
// tickets and their events, in a few set-based queries.
func (s *Store) Report(ctx context.Context, from, to time.Time, now time.Time) (hotlinebot.Report, error) {
	loc := s.location()
	start := dateIn(from, loc)
	end := dateIn(to, loc).AddDate(0, 0, 1)
	r := hotlinebot.Report{
		From: start.Format(time.DateOnly), To: end.AddDate(0, 0, -1).Format(time.DateOnly),
		Departments: []hotlinebot.DepartmentReport{}, Categories: []hotlinebot.CategoryCount{},
	}
	if !end.After(start) {
		return r, hotlinebot.Errorf(hotlinebot.EINVALID, "报表的结束日期 %s 早于开始日期 %s", r.To, r.From)
	}

	// One line per department (with department_id NULL for tickets still
	// waiting for the office), summed into the totals. The follow-ups are
	// looked up by the cohort's ids (an array, so the plan is always probes
	// of ticket_events_action): a join with the cohort let the planner hash
	// every follow-up event in the table, whatever the quarter held.
	type line struct {
		DepartmentID *int64 `db:"department_id"`
		Code         string `db:"code"`
		Name         string `db:"name"`
		Received     int    `db:"received"`
		Completed    int    `db:"completed"`
		Overdue      int    `db:"overdue"`
		FollowUps    int    `db:"followups"`
		Satisfied    int    `db:"satisfied"`
	}
	var lines []line
	err := s.db.SelectContext(ctx, &lines, `
		WITH cohort AS (
			SELECT t.id, t.department_id, t.status,
			       `+overdueSQL("$3")+` AS overdue
			FROM tickets t WHERE t.received_at >= $1 AND t.received_at < $2
		), visits AS (
			SELECT e.ticket_id, count(*) AS n,
			       count(*) FILTER (WHERE e.data->>'result' IN ('satisfied', 'basic')) AS satisfied
			FROM ticket_events e
			WHERE e.action = 'follow_up' AND e.ticket_id = ANY (ARRAY(SELECT id FROM cohort))
			GROUP BY e.ticket_id
		), per AS (
			SELECT c.department_id,
			       count(*) AS received,
			       count(*) FILTER (WHERE c.status IN ('completed', 'closed')) AS completed,
			       count(*) FILTER (WHERE c.overdue) AS overdue,
			       coalesce(sum(v.n), 0) AS followups,
			       coalesce(sum(v.satisfied), 0) AS satisfied
			FROM cohort c LEFT JOIN visits v ON v.ticket_id = c.id
			GROUP BY c.department_id
		)
		SELECT d.id AS department_id, d.code, d.name,
		       coalesce(p.received, 0) AS received, coalesce(p.completed, 0) AS completed,
		       coalesce(p.overdue, 0) AS overdue, coalesce(p.followups, 0) AS followups,
		       coalesce(p.satisfied, 0) AS satisfied
		FROM departments d LEFT JOIN per p ON p.department_id = d.id
		UNION ALL
		SELECT NULL, '', '', received, completed, overdue, followups, satisfied
		FROM per WHERE department_id IS NULL
		ORDER BY 1 NULLS LAST`, start, end, now)
	if err != nil {
		return r, fmt.Errorf("storage: report: %w", err)
	}
	for _, l := range lines {
		r.Received += l.Received
		r.Completed += l.Completed
		r.Overdue += l.Overdue
		r.FollowUps += l.FollowUps
		r.Satisfied += l.Satisfied
		if l.DepartmentID != nil {
			r.Departments = append(r.Departments, hotlinebot.DepartmentReport{
				Code: l.Code, Name: l.Name, Received: l.Received, Completed: l.Completed,
				Overdue: l.Overdue, FollowUps: l.FollowUps, Satisfied: l.Satisfied,
			})
		}
	}

	err = s.db.SelectContext(ctx, &r.Categories, `
		SELECT name, count FROM (
			SELECT CASE WHEN category = '' THEN '未分类' ELSE category END AS name, count(*) AS count
			FROM tickets WHERE received_at >= $1 AND received_at < $2
			GROUP BY 1
		) c ORDER BY count DESC, name COLLATE "C"`, start, end)
	if err != nil {
		return r, fmt.Errorf("storage: report categories: %w", err)
	}
	r.Fill()
	return r, nil
}

// dateIn is 00:00 in loc of the calendar date t shows in its own location
// (a date parsed with time.Parse is UTC midnight and means that date).
func dateIn(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}
