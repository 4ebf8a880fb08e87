package storage

// The scheduler's side of the store: alarms planned from each open ticket's
// deadlines, and the set-based claim of the ones that are due. The scheduler
// (scheduler/) decides what an alarm means: who is reminded, who is told of
// an overdue ticket. This file only finds, locks and records.
//
// Exactly once, however many replicas tick: a due alarm is handled under the
// lock of its ticket row (FOR UPDATE SKIP LOCKED: a second scheduler skips a
// ticket the first one holds, and the ticket's own transactions wait for it),
// it is marked fired in the same transaction that queues its pushes, and each
// push carries a unique dedupe key, so even a retry after an unknown commit
// outcome adds nothing.

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// AlarmStage says what an alarm is for.
type AlarmStage string

const (
	StageSign       AlarmStage = "sign"        // a reminder before the 签收 deadline
	StageSignMissed AlarmStage = "sign_missed" // the 签收 deadline passed with nobody signed
	StageDue        AlarmStage = "due"         // a reminder before the 办理 deadline
	StageOverdue    AlarmStage = "overdue"     // the first crossing of the 办理 deadline: an event, no push
	StageEscalate   AlarmStage = "escalate"    // an [[escalation]] step
)

// AlarmOutcome is what became of a fired alarm.
type AlarmOutcome string

const (
	AlarmQueued  AlarmOutcome = "queued"  // its pushes (or its event) were written
	AlarmSkipped AlarmOutcome = "skipped" // a later reminder of the same stage was due too and went instead
	AlarmVoid    AlarmOutcome = "void"    // it no longer applies: the ticket moved on
)

// Alarm is one moment the scheduler acts on a ticket. It belongs to the
// deadline it was computed from (Deadline): when the ticket's deadline moves,
// the alarm is deleted unfired.
type Alarm struct {
	TicketID int64      `db:"ticket_id"`
	Stage    AlarmStage `db:"stage"`
	Step     int        `db:"step"`   // the escalation step's index when planned; 0 otherwise
	Span     string     `db:"span"`   // the configured offset ("2h", "1wd"), "" for none
	Notify   string     `db:"notify"` // an escalation step's audiences joined by "+"; "" otherwise
	Deadline time.Time  `db:"deadline"`
	FireAt   time.Time  `db:"fire_at"`
}

// DedupeKey is the base of the dedupe keys of the alarm's pushes (EnqueueTx
// appends kind and person): the ticket, the stage, the offset (and for an
// escalation step its audiences) and the deadline, so a moved deadline gives
// new keys and a repeat gives none. An escalation step is named by what it
// is, not by its place in the list: a step inserted before it or a reordered
// list gives a different step a different key, never one already used.
//
//	remind:<ticket>:<sign|due>:<offset>:<deadline unix>
//	escalate:<ticket>:sign:<sign deadline unix>
//	escalate:<ticket>:<offset>:<audience+audience>:<due unix>
func (a Alarm) DedupeKey() string {
	id := strconv.FormatInt(a.TicketID, 10)
	unix := strconv.FormatInt(a.Deadline.Unix(), 10)
	switch a.Stage {
	case StageSign, StageDue:
		return "remind:" + id + ":" + string(a.Stage) + ":" + a.Span + ":" + unix
	case StageSignMissed:
		return "escalate:" + id + ":sign:" + unix
	case StageEscalate:
		return "escalate:" + id + ":" + a.Span + ":" + a.Notify + ":" + unix
	}
	return string(a.Stage) + ":" + id + ":" + unix
}

// openForAlarms are the statuses in which a ticket has alarms planned: it is
// with a department. Which alarms may fire in which status is the
// scheduler's decision; a ticket waiting for a return decision is not
// claimed at all, so its escalation waits and resumes if the return is refused.
const openForAlarms = `('dispatched', 'accepted', 'return_requested')`

// PlanResult counts what one PlanAlarms call did.
type PlanResult struct {
	Planned int   // tickets planned
	Failed  int   // tickets whose plan panicked: logged, left for the next tick
	Last    int64 // the highest ticket id looked at: the next call's after
	More    bool  // a full batch: call again with after = Last
}

// PlanAlarms plans the alarms of up to limit open tickets above id after, in
// id order, whose alarms were not yet planned from their current deadlines
// under these settings (a fingerprint of the reminder and escalation
// configuration): plan(t) returns the ticket's alarms; the unfired alarms of
// its earlier deadlines are deleted, and alarms already fired stay fired.
// Tickets that left the department's hands (completed, closed, back to
// pending) lose their unfired alarms. A caller goes through the tickets once
// per tick by passing the previous call's Last as after while More: each
// batch starts where the last one ended instead of reading again every
// ticket already planned. A ticket whose plan panics is logged and skipped
// (its plan is not saved, so the next tick tries it again).
func (s *Store) PlanAlarms(ctx context.Context, settings string, now time.Time, after int64, limit int, plan func(hotlinebot.Ticket) []Alarm) (PlanResult, error) {
	if limit <= 0 {
		limit = 500
	}
	var res PlanResult
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var rows []ticketRow
		err := tx.SelectContext(ctx, &rows,
			`SELECT `+ticketColumns+ticketFrom+`
			 LEFT JOIN ticket_alarm_plans p ON p.ticket_id = t.id AND p.ticket_id > $3
			 WHERE t.status IN `+openForAlarms+` AND NOT t.history
			   AND (p.ticket_id IS NULL OR p.settings <> $1
			        OR p.dispatched_at IS DISTINCT FROM t.dispatched_at
			        OR p.sign_due_at IS DISTINCT FROM t.sign_due_at
			        OR p.due_at IS DISTINCT FROM t.due_at)
			   AND t.id > $3
			 ORDER BY t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED`, settings, limit, after)
		if err != nil {
			return fmt.Errorf("storage: tickets to plan: %w", err)
		}
		if len(rows) > 0 {
			res.Last, res.More = rows[len(rows)-1].ID, len(rows) == limit
		}
		// Alarms of tickets that are no longer with a department never fire;
		// dropping them (and the plan) lets a reopened ticket plan afresh.
		// Those in this batch's range of ids (to the end when it is the last
		// batch), so a tick reads each plan once.
		until := res.Last
		if !res.More {
			until = math.MaxInt64
		}
		if _, err := tx.ExecContext(ctx,
			`WITH gone AS (
			   SELECT p.ticket_id FROM ticket_alarm_plans p JOIN tickets t ON t.id = p.ticket_id
			   WHERE p.ticket_id > $1 AND p.ticket_id <= $2 AND t.status NOT IN `+openForAlarms+`
			   FOR UPDATE OF t SKIP LOCKED
			 ), dropped AS (
			   DELETE FROM ticket_alarms a USING gone WHERE a.ticket_id = gone.ticket_id AND a.fired_at IS NULL
			 )
			 DELETE FROM ticket_alarm_plans p USING gone WHERE p.ticket_id = gone.ticket_id`, after, until); err != nil {
			return fmt.Errorf("storage: drop alarms of closed tickets: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		// Each ticket's plan first, so a ticket whose plan fails leaves its
		// alarms and plan as they were.
		type planned struct {
			t      hotlinebot.Ticket
			alarms []Alarm
		}
		var ok []planned
		for _, r := range rows {
			t := r.ticket()
			alarms, err := safePlan(plan, t)
			if err != nil {
				res.Failed++
				s.log.Error("scheduler: planning the alarms of a ticket failed; it is skipped until the next tick",
					"ticket", t.ID, "err", err)
				continue
			}
			ok = append(ok, planned{t, alarms})
		}
		if len(ok) == 0 {
			return nil
		}
		ids := make([]int64, len(ok))
		for i, p := range ok {
			ids[i] = p.t.ID
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM ticket_alarms WHERE ticket_id = ANY($1) AND fired_at IS NULL`, pq.Array(ids)); err != nil {
			return fmt.Errorf("storage: drop stale alarms: %w", err)
		}
		// A step fired before the steps were named by their audiences
		// (migration 5 marked it '#<index>') is not planned again at that
		// index with that offset.
		var legacy []Alarm
		if err := tx.SelectContext(ctx, &legacy,
			`SELECT ticket_id, stage, step, span, notify, deadline, fire_at FROM ticket_alarms
			 WHERE ticket_id = ANY($1) AND stage = 'escalate' AND notify LIKE '#%'`, pq.Array(ids)); err != nil {
			return fmt.Errorf("storage: steps fired before migration 5: %w", err)
		}
		firedByIndex := make(map[string]bool, len(legacy))
		for _, l := range legacy {
			firedByIndex[legacyKey(l.TicketID, l.Notify, l.Span, l.Deadline)] = true
		}
		var (
			aTicket, aStep                  []int64
			aStage, aSpan, aDeadline, aFire []string
			aNotify                         []string
			pTicket                         []int64
			pDispatched, pSignDue, pDue     []sql.NullString
		)
		for _, p := range ok {
			t := p.t
			for _, a := range p.alarms {
				if a.Stage == StageEscalate && firedByIndex[legacyKey(t.ID, "#"+strconv.Itoa(a.Step), a.Span, a.Deadline)] {
					continue
				}
				aTicket = append(aTicket, t.ID)
				aStage = append(aStage, string(a.Stage))
				aStep = append(aStep, int64(a.Step))
				aSpan = append(aSpan, a.Span)
				aNotify = append(aNotify, a.Notify)
				aDeadline = append(aDeadline, pgTime(a.Deadline))
				aFire = append(aFire, pgTime(a.FireAt))
			}
			pTicket = append(pTicket, t.ID)
			pDispatched = append(pDispatched, pgNullTime(t.DispatchedAt))
			pSignDue = append(pSignDue, pgNullTime(t.SignDueAt))
			pDue = append(pDue, pgNullTime(t.DueAt))
		}
		if len(aTicket) > 0 {
			// An alarm already fired stays fired.
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO ticket_alarms (ticket_id, stage, step, span, notify, deadline, fire_at)
				 SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
				 ON CONFLICT DO NOTHING`,
				pq.Array(aTicket), pq.Array(aStage), pq.Array(aStep), pq.Array(aSpan), pq.Array(aNotify),
				pq.Array(aDeadline), pq.Array(aFire)); err != nil {
				return fmt.Errorf("storage: plan alarms: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO ticket_alarm_plans (ticket_id, dispatched_at, sign_due_at, due_at, settings, planned_at)
			 SELECT t, d, s, u, $5, $6 FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[]) AS x(t, d, s, u)
			 ON CONFLICT (ticket_id) DO UPDATE SET dispatched_at = excluded.dispatched_at,
			   sign_due_at = excluded.sign_due_at, due_at = excluded.due_at,
			   settings = excluded.settings, planned_at = excluded.planned_at`,
			pq.Array(pTicket), pq.Array(pDispatched), pq.Array(pSignDue), pq.Array(pDue), settings, now); err != nil {
			return fmt.Errorf("storage: save alarm plans: %w", err)
		}
		res.Planned = len(ok)
		return nil
	})
	if err != nil {
		return PlanResult{}, err
	}
	return res, nil
}

func legacyKey(ticket int64, notify, span string, deadline time.Time) string {
	return strconv.FormatInt(ticket, 10) + "|" + notify + "|" + span + "|" + strconv.FormatInt(deadline.UnixMicro(), 10)
}

// safePlan is plan(t) with a panic turned into an error.
func safePlan(plan func(hotlinebot.Ticket) []Alarm, t hotlinebot.Ticket) (alarms []Alarm, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("storage: plan of %s: panic: %v", t.Ref(), r)
		}
	}()
	return plan(t), nil
}

// DueTicket is a ticket with alarms due, locked for the transaction that
// handles them.
type DueTicket struct {
	Ticket         hotlinebot.Ticket
	DepartmentName string
	Alarms         []Alarm // due and unfired, oldest first
}

// AlarmTx is what the scheduler may do while it holds a ticket: queue pushes,
// check who a push would reach, record events. Everything is part of the
// transaction that marks the alarms fired.
type AlarmTx struct {
	s      *Store
	ctx    context.Context
	tx     *sqlx.Tx
	now    time.Time
	queued int

	// What is read once per ticket handled: the ticket is locked and the
	// scheduler changes neither it nor anyone's reachability, so both hold
	// until the next ticket (reset).
	data   map[int64]hotlinebot.TemplateData
	reach  map[reachKey][]int64
	marked []firedAlarm       // the alarms of the tickets handled, marked at the end of the batch
	events []hotlinebot.Event // their events
}

type reachKey struct {
	to     hotlinebot.Recipient
	ticket int64
}

type firedAlarm struct {
	Alarm
	outcome AlarmOutcome
}

// reset starts on ticket due, forgetting what was read for the previous one.
// Its template data is what ticketTemplateData would read, taken from the
// row claimed under lock.
func (a *AlarmTx) reset(due *DueTicket) {
	clear(a.data)
	clear(a.reach)
	t := due.Ticket
	data := hotlinebot.TemplateData{
		Ref: t.Ref(), ExternalID: t.ExternalID, Title: t.Title, Category: t.Category,
		Status: t.Status.Chinese(), Department: due.DepartmentName,
	}
	if !t.DueAt.IsZero() {
		data.DueAt = t.DueAt.In(a.s.location()).Format(hotlinebot.LayoutMinute)
	}
	a.data[t.ID] = data
}

// Enqueue queues n under dedupeKey (as EnqueueTx does) and returns the rows
// queued. The ticket's template data is read once for all its pushes.
func (a *AlarmTx) Enqueue(n hotlinebot.Notification, dedupeKey string) (int, error) {
	var data hotlinebot.TemplateData
	if n.TicketID != 0 {
		var ok bool
		if data, ok = a.data[n.TicketID]; !ok {
			var err error
			if data, err = a.s.ticketTemplateData(a.ctx, a.tx, n.TicketID); err != nil {
				return 0, err
			}
			a.data[n.TicketID] = data
		}
	}
	k, err := a.s.EnqueueDataTx(a.ctx, a.tx, n, data, time.Time{}, dedupeKey, a.now)
	a.queued += k
	return k, err
}

// Reachable returns how many people n would reach now.
func (a *AlarmTx) Reachable(n hotlinebot.Notification) (int, error) {
	key := reachKey{n.To, n.TicketID}
	if ids, ok := a.reach[key]; ok {
		return len(ids), nil
	}
	ids, err := a.s.recipients(a.ctx, a.tx, n)
	if err != nil {
		return 0, err
	}
	a.reach[key] = ids
	return len(ids), nil
}

// Record appends a scheduler event to the ticket's history. A ticket's
// events are written together when its alarms are handled, under its
// savepoint (dropped with it when the handling fails).
func (a *AlarmTx) Record(ev hotlinebot.Event) error {
	if ev.At.IsZero() {
		ev.At = a.now
	}
	if ev.Channel == "" {
		ev.Channel = hotlinebot.ChannelScheduler
	}
	if ev.TicketID == 0 || ev.Action == "" {
		return fmt.Errorf("storage: scheduler event %+v names no ticket or action", ev)
	}
	a.events = append(a.events, ev)
	return nil
}

// writeEvents writes events in one statement, in the order they were
// recorded.
func writeEvents(ctx context.Context, tx *sqlx.Tx, events []hotlinebot.Event) error {
	if len(events) == 0 {
		return nil
	}
	var (
		ticket, actor                       []int64
		at, action, channel, from, to, note []string
	)
	for _, ev := range events {
		ticket = append(ticket, ev.TicketID)
		actor = append(actor, ev.ActorID)
		at = append(at, pgTime(ev.At))
		action = append(action, string(ev.Action))
		channel = append(channel, string(ev.Channel))
		from = append(from, string(ev.FromStatus))
		to = append(to, string(ev.ToStatus))
		note = append(note, ev.Note)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO ticket_events (ticket_id, at, action, actor_id, channel, from_status, to_status, note)
		 SELECT t, a, act, nullif(actor, 0), ch, fs, ts, note
		 FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[])
		   WITH ORDINALITY AS x(t, a, act, actor, ch, fs, ts, note, n)
		 ORDER BY n`,
		pq.Array(ticket), pq.Array(at), pq.Array(action), pq.Array(actor), pq.Array(channel),
		pq.Array(from), pq.Array(to), pq.Array(note)); err != nil {
		return fmt.Errorf("storage: record the scheduler's events: %w", err)
	}
	return nil
}

// FireResult counts what one FireAlarms call did.
type FireResult struct {
	Tickets int   // tickets whose alarms were fired
	Alarms  int   // alarms fired (any outcome)
	Queued  int   // outbox rows written
	Failed  int   // tickets whose handling failed: rolled back, skipped until the next tick
	Last    int64 // the highest ticket id claimed: the next call's after
	More    bool  // a full batch: call again with after = Last
}

// FireAlarms claims up to limit tickets above id after that have alarms due
// at now and are with a department (dispatched or accepted), in id order,
// locking each row and skipping rows another transaction holds, and calls
// handle for each with its due alarms (by moment; at one moment reminders,
// the missed 签收, the overdue event, then the steps). handle returns one
// outcome per alarm, in order; the alarms are marked fired with it in the
// same transaction.
//
// Each ticket is handled under its own savepoint: when handle fails (or
// panics) for one, what it wrote is rolled back, the failure is logged with
// the ticket's id, its alarms stay due, and the others of the batch go on.
// One bad ticket delays only itself; the next tick tries it again. A caller
// goes through the due tickets once per tick by passing the previous call's
// Last as after while More.
func (s *Store) FireAlarms(ctx context.Context, now time.Time, after int64, limit int,
	handle func(tx *AlarmTx, due DueTicket) ([]AlarmOutcome, error)) (FireResult, error) {
	if limit <= 0 {
		limit = 100
	}
	var res FireResult
	at := &AlarmTx{s: s, ctx: ctx, now: now, data: map[int64]hotlinebot.TemplateData{}, reach: map[reachKey][]int64{}}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		at.tx = tx
		type claimed struct {
			ticketRow
			DepartmentName string `db:"department_name"`
		}
		var rows []claimed
		err := tx.SelectContext(ctx, &rows,
			`SELECT `+ticketColumns+`, coalesce(d.name, '') AS department_name`+ticketFrom+`
			 WHERE t.id IN (SELECT a.ticket_id FROM ticket_alarms a WHERE a.fired_at IS NULL AND a.fire_at <= $1)
			   AND t.status IN ('dispatched', 'accepted') AND t.id > $3
			 ORDER BY t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED`, now, limit, after)
		if err != nil {
			return fmt.Errorf("storage: claim due alarms: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		res.Last, res.More = rows[len(rows)-1].ID, len(rows) == limit
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		var alarms []Alarm
		if err := tx.SelectContext(ctx, &alarms,
			`SELECT ticket_id, stage, step, span, notify, deadline, fire_at FROM ticket_alarms
			 WHERE ticket_id = ANY($1) AND fired_at IS NULL AND fire_at <= $2
			 ORDER BY ticket_id, fire_at,
			   array_position(ARRAY['sign', 'due', 'sign_missed', 'overdue', 'escalate'], stage), step`, pq.Array(ids), now); err != nil {
			return fmt.Errorf("storage: due alarms: %w", err)
		}
		byTicket := make(map[int64][]Alarm, len(rows))
		for _, a := range alarms {
			byTicket[a.TicketID] = append(byTicket[a.TicketID], a)
		}
		// One savepoint per ticket; the release of the previous one and the
		// next one go in one round trip.
		savepoint := `SAVEPOINT ticket_alarms`
		for _, r := range rows {
			due := DueTicket{Ticket: r.ticket(), DepartmentName: r.DepartmentName, Alarms: byTicket[r.ID]}
			if len(due.Alarms) == 0 {
				continue // fired by another scheduler between the two reads
			}
			if _, err := tx.ExecContext(ctx, savepoint); err != nil {
				return fmt.Errorf("storage: savepoint: %w", err)
			}
			savepoint = `RELEASE SAVEPOINT ticket_alarms; SAVEPOINT ticket_alarms`
			queued, marked, events := at.queued, len(at.marked), len(at.events)
			at.reset(&due)
			err := s.fireTicket(at, due, handle)
			if err == nil {
				// Under the ticket's savepoint: an event that cannot be
				// written fails this ticket only.
				err = writeEvents(ctx, tx, at.events[events:])
			}
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT ticket_alarms`); rerr != nil {
					return fmt.Errorf("storage: roll back the alarms of #%d: %w (after: %w)", due.Ticket.ID, rerr, err)
				}
				at.queued, at.marked, at.events = queued, at.marked[:marked], at.events[:events]
				res.Failed++
				// The ticket's id and the error only: no phone, no name.
				s.log.Error("scheduler: the alarms of a ticket failed; it is skipped until the next tick",
					"ticket", due.Ticket.ID, "err", err)
			} else {
				res.Tickets++
				res.Alarms += len(due.Alarms)
			}
		}
		return markFired(ctx, tx, now, at.marked)
	})
	if err != nil {
		return FireResult{}, err
	}
	res.Queued = at.queued
	s.notifyOutbox(res.Queued)
	return res, nil
}

// markFired marks the alarms of a batch fired, with their outcomes, in one
// statement.
func markFired(ctx context.Context, tx *sqlx.Tx, now time.Time, marked []firedAlarm) error {
	if len(marked) == 0 {
		return nil
	}
	var (
		ticket                                 []int64
		stage, span, notify, deadline, outcome []string
	)
	for _, m := range marked {
		ticket = append(ticket, m.TicketID)
		stage = append(stage, string(m.Stage))
		span = append(span, m.Span)
		notify = append(notify, m.Notify)
		deadline = append(deadline, pgTime(m.Deadline))
		outcome = append(outcome, string(m.outcome))
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE ticket_alarms a SET fired_at = $1, outcome = x.outcome
		 FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[])
		   AS x(ticket_id, stage, span, notify, deadline, outcome)
		 WHERE a.ticket_id = x.ticket_id AND a.stage = x.stage AND a.span = x.span AND a.notify = x.notify
		   AND a.deadline = x.deadline AND a.fired_at IS NULL`,
		now, pq.Array(ticket), pq.Array(stage), pq.Array(span), pq.Array(notify), pq.Array(deadline), pq.Array(outcome)); err != nil {
		return fmt.Errorf("storage: mark alarms fired: %w", err)
	}
	return nil
}

// fireTicket handles one ticket's due alarms and keeps handle's outcomes
// for markFired; a panic in handle is an error.
func (s *Store) fireTicket(at *AlarmTx, due DueTicket,
	handle func(tx *AlarmTx, due DueTicket) ([]AlarmOutcome, error)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("storage: alarms of %s: panic: %v", due.Ticket.Ref(), r)
		}
	}()
	outcomes, err := handle(at, due)
	if err != nil {
		return fmt.Errorf("storage: alarms of %s: %w", due.Ticket.Ref(), err)
	}
	if len(outcomes) != len(due.Alarms) {
		return fmt.Errorf("storage: alarms of %s: %d outcomes for %d alarms", due.Ticket.Ref(), len(outcomes), len(due.Alarms))
	}
	for i, a := range due.Alarms {
		at.marked = append(at.marked, firedAlarm{a, outcomes[i]})
	}
	return nil
}

// Alarms returns a ticket's alarms with their state, for tests and the
// office's questions ("why was nobody reminded?").
func (s *Store) Alarms(ctx context.Context, ticketID int64) ([]AlarmState, error) {
	var rows []AlarmState
	err := s.db.SelectContext(ctx, &rows,
		`SELECT ticket_id, stage, step, span, notify, deadline, fire_at, fired_at, outcome FROM ticket_alarms
		 WHERE ticket_id = $1 ORDER BY fire_at, stage, step`, ticketID)
	if err != nil {
		return nil, fmt.Errorf("storage: alarms of #%d: %w", ticketID, err)
	}
	return rows, nil
}

// AlarmState is an alarm with what became of it.
type AlarmState struct {
	Alarm
	FiredAt sql.NullTime `db:"fired_at"`
	Outcome AlarmOutcome `db:"outcome"`
}

// pgTime spells t for a timestamptz[] parameter, to the microsecond
// PostgreSQL keeps.
func pgTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00") }

func pgNullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: pgTime(t), Valid: true}
}
