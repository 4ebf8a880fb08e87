package storage

// WeChat delivers a callback up to three times when it gets no answer within
// 5 seconds. Each inbound message is recorded here by its dedupe key in the
// same transaction as its effect, with the reply it got, so a retry gets the
// same reply and changes nothing.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
)

// Inbound records the inbound message key (from openid) and runs handle in
// the same transaction, storing the reply it returns. When key is recorded
// already it returns the stored reply with duplicate=true and does not run
// handle; a retry that arrives while the first delivery is still being
// handled waits for it (the insert blocks on the key until the first commits)
// and then gets its reply.
//
// handle returns the reply text ("" for none). A person's mistake (a wrong
// bind code, a refused command) is a reply, not an error: handle returns it
// with a nil error, so that what the …Tx method wrote for it (a failed bind
// attempt, a `refused` event) is committed with the message. An error from
// handle rolls everything back and records nothing: WeChat's retry will try
// again. After a commit the dispatcher is woken, since handle may have queued
// pushes.
func (s *Store) Inbound(ctx context.Context, key, openid string, now time.Time,
	handle func(tx *sqlx.Tx) (reply string, err error)) (reply string, duplicate bool, err error) {
	if key == "" {
		return "", false, errors.New("storage: inbound: empty dedupe key")
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO wechat_inbound (dedupe_key, openid, created_at) VALUES ($1, $2, $3)
			 ON CONFLICT (dedupe_key) DO NOTHING`, key, openid, now)
		if err != nil {
			return fmt.Errorf("storage: inbound: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			duplicate = true
			if err := tx.GetContext(ctx, &reply,
				`SELECT reply FROM wechat_inbound WHERE dedupe_key = $1`, key); err != nil {
				return fmt.Errorf("storage: inbound: stored reply: %w", err)
			}
			return nil
		}
		if reply, err = handle(tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE wechat_inbound SET reply = $2 WHERE dedupe_key = $1`, key, reply); err != nil {
			return fmt.Errorf("storage: inbound: store reply: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", false, err
	}
	if !duplicate {
		s.notifyOutbox(1)
	}
	return reply, duplicate, nil
}

// PruneInbound forgets inbound messages recorded before before; WeChat's
// retries come within a minute, so a few days' worth is ample.
func (s *Store) PruneInbound(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM wechat_inbound WHERE created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("storage: prune inbound: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// ActTx is Act inside tx (for an Inbound handler): it locks the ticket named
// by ref, applies cmd and writes the ticket, its events and its outbox rows.
// A coded error leaves tx usable: a refusal (EFORBIDDEN) is recorded in tx as
// a `refused` event and returned, and committing tx keeps that record. The
// caller wakes the dispatcher after its commit (Inbound does).
func (s *Store) ActTx(ctx context.Context, tx *sqlx.Tx, ref string, actor hotlinebot.Actor, cmd hotlinebot.Command, now time.Time) (hotlinebot.Transition, error) {
	id, err := ticketID(ctx, tx, ref)
	if err != nil {
		return hotlinebot.Transition{}, err
	}
	current, err := loadTicket(ctx, tx, id, true)
	if err != nil {
		return hotlinebot.Transition{}, err
	}
	tr, _, err := s.applyTx(ctx, tx, current, actor, cmd, now)
	if err != nil {
		if hotlinebot.ErrorCodeOf(err) == hotlinebot.EFORBIDDEN {
			ev := hotlinebot.Event{
				TicketID: current.ID, At: now, Action: hotlinebot.ActionRefused, ActorID: actor.PersonID,
				Channel: actor.Channel, FromStatus: current.Status, ToStatus: current.Status,
				Note: hotlinebot.ErrorMessage(err),
			}
			if _, rerr := insertEvent(ctx, tx, ev, map[string]string{"action": string(cmd.Action)}); rerr != nil {
				return hotlinebot.Transition{}, fmt.Errorf("storage: record refusal on %s: %w", current.Ref(), rerr)
			}
		}
		return hotlinebot.Transition{}, err
	}
	return tr, nil
}

// RecordEventTx appends ev to its ticket inside tx (for an Inbound handler):
// an event without a transition, such as the refusal of a 查, committed or
// rolled back with the message that caused it.
func (s *Store) RecordEventTx(ctx context.Context, tx *sqlx.Tx, ev hotlinebot.Event) (hotlinebot.Event, error) {
	if ev.Action == "" || ev.Channel == "" {
		return ev, hotlinebot.Errorf(hotlinebot.EINTERNAL, "storage: RecordEventTx needs an action and a channel")
	}
	return insertEvent(ctx, tx, ev, nil)
}
