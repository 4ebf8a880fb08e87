package storage

// Evidence: images sent in WeChat after a 办结 or 进展, kept with that event.

import (
	"context"
	"fmt"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
)

// MaxEvidenceBytes is the largest image kept (2 MB).
const MaxEvidenceBytes = 2 << 20

// EvidenceStatus is where a piece of evidence stands.
type EvidenceStatus string

const (
	EvidencePending  EvidenceStatus = "pending"   // recorded, bytes not fetched yet
	EvidenceStored   EvidenceStatus = "stored"    // bytes kept
	EvidenceFailed   EvidenceStatus = "failed"    // WeChat no longer has it
	EvidenceTooLarge EvidenceStatus = "too_large" // over MaxEvidenceBytes: not kept
)

// Evidence is one image attached to a ticket event (without its bytes).
type Evidence struct {
	ID          int64          `db:"id"`
	TicketID    int64          `db:"ticket_id"`
	EventID     int64          `db:"event_id"`
	PersonID    int64          `db:"person_id"`
	MediaID     string         `db:"media_id"`
	Status      EvidenceStatus `db:"status"`
	ContentType string         `db:"content_type"`
	Size        int            `db:"size"`
	Attempts    int            `db:"attempts"`
	ReceivedAt  time.Time      `db:"received_at"`
}

const evidenceColumns = `id, ticket_id, event_id, person_id, media_id, status, content_type, size, attempts, received_at`

// LatestWorkTx finds personID's latest 办结 or 进展 event at or after since
// (and not after now); ENOTFOUND when there is none.
func (s *Store) LatestWorkTx(ctx context.Context, tx *sqlx.Tx, personID int64, since, now time.Time) (hotlinebot.Event, error) {
	var r eventRow
	err := tx.GetContext(ctx, &r,
		`SELECT id, ticket_id, at, action, actor_id, channel, from_status, to_status, note
		 FROM ticket_events
		 WHERE actor_id = $1 AND action IN ('complete', 'progress') AND at >= $2 AND at <= $3
		 ORDER BY at DESC, id DESC LIMIT 1`, personID, since, now)
	if notFound(err) {
		return hotlinebot.Event{}, hotlinebot.Errorf(hotlinebot.ENOTFOUND, "最近没有办结或进展")
	}
	if err != nil {
		return hotlinebot.Event{}, fmt.Errorf("storage: latest work of person %d: %w", personID, err)
	}
	return hotlinebot.Event{
		ID: r.ID, TicketID: r.TicketID, At: timeIn(r.At, s.location()), Action: hotlinebot.Action(r.Action),
		ActorID: r.ActorID.Int64, Channel: hotlinebot.Channel(r.Channel),
		FromStatus: hotlinebot.Status(r.FromStatus), ToStatus: hotlinebot.Status(r.ToStatus), Note: r.Note,
	}, nil
}

// AddEvidenceTx records an image (by media id) as evidence of event ev, to be
// fetched. created is false when the media id is recorded already.
func (s *Store) AddEvidenceTx(ctx context.Context, tx *sqlx.Tx, ev hotlinebot.Event, personID int64, mediaID string, now time.Time) (Evidence, bool, error) {
	if mediaID == "" {
		return Evidence{}, false, hotlinebot.Errorf(hotlinebot.EINVALID, "图片缺少 MediaId")
	}
	var e Evidence
	err := tx.GetContext(ctx, &e,
		`INSERT INTO evidence (ticket_id, event_id, person_id, media_id, received_at)
		 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (media_id) DO NOTHING
		 RETURNING `+evidenceColumns, ev.TicketID, ev.ID, personID, mediaID, now)
	if notFound(err) {
		err = tx.GetContext(ctx, &e, `SELECT `+evidenceColumns+` FROM evidence WHERE media_id = $1`, mediaID)
		if err != nil {
			return Evidence{}, false, fmt.Errorf("storage: evidence %s: %w", mediaID, err)
		}
		return e, false, nil
	}
	if err != nil {
		return Evidence{}, false, fmt.Errorf("storage: add evidence: %w", err)
	}
	return e, true, nil
}

// StoreEvidence keeps the fetched bytes of evidence id (or, over
// MaxEvidenceBytes, only the fact) and records an `evidence` event on its
// ticket, in one transaction. Storing twice changes nothing.
func (s *Store) StoreEvidence(ctx context.Context, id int64, data []byte, contentType string, now time.Time) (hotlinebot.Event, error) {
	var ev hotlinebot.Event
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var e struct {
			Evidence
			Work   string `db:"work"`
			Status string `db:"ticket_status"`
		}
		err := tx.GetContext(ctx, &e,
			`SELECT e.id, e.ticket_id, e.event_id, e.person_id, e.media_id, e.status, e.content_type, e.size,
			        e.attempts, e.received_at, w.action AS work, t.status AS ticket_status
			 FROM evidence e JOIN ticket_events w ON w.id = e.event_id JOIN tickets t ON t.id = e.ticket_id
			 WHERE e.id = $1 FOR UPDATE OF e`, id)
		if notFound(err) {
			return hotlinebot.Errorf(hotlinebot.ENOTFOUND, "没有材料 %d", id)
		}
		if err != nil {
			return fmt.Errorf("storage: evidence %d: %w", id, err)
		}
		if e.Evidence.Status == EvidenceStored || e.Evidence.Status == EvidenceTooLarge {
			return nil
		}
		status, keep := EvidenceStored, data
		note := fmt.Sprintf("现场照片（%s材料）", hotlinebot.Action(e.Work).Chinese())
		if len(data) > MaxEvidenceBytes {
			status, keep = EvidenceTooLarge, nil
			note = "现场照片超过 2 MB，未保存"
		}
		ev, err = insertEvent(ctx, tx, hotlinebot.Event{
			TicketID: e.TicketID, At: now, Action: hotlinebot.ActionEvidence, ActorID: e.PersonID,
			Channel: hotlinebot.ChannelWeChat, FromStatus: hotlinebot.Status(e.Status), ToStatus: hotlinebot.Status(e.Status),
			Note: note,
		}, map[string]string{"evidence": fmt.Sprint(id), "event": fmt.Sprint(e.EventID), "content_type": contentType})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE evidence SET status = $2, data = $3, size = $4, content_type = $5, fetched_at = $6,
			        attempts = attempts + 1, last_error = '', evidence_event_id = $7
			 WHERE id = $1`, id, string(status), keep, len(data), contentType, now, ev.ID)
		if err != nil {
			return fmt.Errorf("storage: store evidence %d: %w", id, err)
		}
		return nil
	})
	return ev, err
}

// EvidenceFetchFailed counts a failed fetch of evidence id; permanent (WeChat
// does not know the media id) marks it failed, otherwise it stays pending for
// PendingEvidence.
func (s *Store) EvidenceFetchFailed(ctx context.Context, id int64, errText string, permanent bool) error {
	status := EvidencePending
	if permanent {
		status = EvidenceFailed
	}
	_, err := s.db.ExecContext(ctx,
		`UPDATE evidence SET attempts = attempts + 1, last_error = $2, status = $3
		 WHERE id = $1 AND status = 'pending'`, id, truncateError(errText), string(status))
	if err != nil {
		return fmt.Errorf("storage: evidence %d failed: %w", id, err)
	}
	return nil
}

// PendingEvidence lists evidence still to fetch that was received after since
// (WeChat keeps media 3 days) and not after before (leaving alone what is
// being fetched right now), oldest first.
func (s *Store) PendingEvidence(ctx context.Context, since, before time.Time, limit int) ([]Evidence, error) {
	var es []Evidence
	err := s.db.SelectContext(ctx, &es,
		`SELECT `+evidenceColumns+` FROM evidence WHERE status = 'pending' AND received_at > $1 AND received_at <= $2
		 ORDER BY received_at, id LIMIT $3`, since, before, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("storage: pending evidence: %w", err)
	}
	return es, nil
}

// TicketEvidence lists a ticket's evidence (without bytes), oldest first.
func (s *Store) TicketEvidence(ctx context.Context, ticketID int64) ([]Evidence, error) {
	var es []Evidence
	err := s.db.SelectContext(ctx, &es,
		`SELECT `+evidenceColumns+` FROM evidence WHERE ticket_id = $1 ORDER BY id`, ticketID)
	if err != nil {
		return nil, fmt.Errorf("storage: evidence of #%d: %w", ticketID, err)
	}
	return es, nil
}

// EvidenceData returns the stored bytes of evidence id and their content
// type; ENOTFOUND when nothing is stored.
func (s *Store) EvidenceData(ctx context.Context, id int64) ([]byte, string, error) {
	var r struct {
		Data        []byte `db:"data"`
		ContentType string `db:"content_type"`
	}
	err := s.db.GetContext(ctx, &r,
		`SELECT data, content_type FROM evidence WHERE id = $1 AND status = 'stored'`, id)
	if notFound(err) {
		return nil, "", hotlinebot.Errorf(hotlinebot.ENOTFOUND, "没有材料 %d", id)
	}
	if err != nil {
		return nil, "", fmt.Errorf("storage: evidence %d data: %w", id, err)
	}
	return r.Data, r.ContentType, nil
}
