package bot

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

const (
	// evidenceWindow is how long after their own 办结 or 进展 a person's
	// images are kept as its evidence.
	evidenceWindow = 10 * time.Minute
	// mediaLifetime is how long WeChat keeps a temporary media id.
	mediaLifetime = 72 * time.Hour
	// evidenceAttempts is how often one background fetch tries.
	evidenceAttempts = 3
)

// evidence answers an image message. The image is recorded in the message's
// transaction and fetched right after it commits, in the background: the
// reply never waits for WeChat's media API.
func (b *Bot) evidence(t *turn, p hotlinebot.Person) (string, error) {
	work, err := b.store.LatestWorkTx(t.ctx, t.tx, p.ID, t.now.Add(-evidenceWindow), t.now)
	if hotlinebot.ErrorCodeOf(err) == hotlinebot.ENOTFOUND {
		return "已收到图片，但您最近 10 分钟内没有办结或进展，图片没有作为办理材料保存。请先发送「进展 工单号 内容」或「办结 工单号 办理结果」，再在 10 分钟内发送照片。", nil
	}
	if err != nil {
		return "", err
	}
	e, created, err := b.store.AddEvidenceTx(t.ctx, t.tx, work, p.ID, string(t.msg.MediaID), t.now)
	if hotlinebot.ErrorCodeOf(err) == hotlinebot.EINVALID {
		return "未能接收这张图片，请重新发送。", nil
	}
	if err != nil {
		return "", err
	}
	if created {
		t.after = append(t.after, func() { b.fetchEvidence(e) })
	}
	return fmt.Sprintf("已收到照片，将作为 #%d %s的办理材料保存。", work.TicketID, work.Action.Chinese()), nil
}

// fetchEvidence fetches and keeps one image in the background, bounded by
// the fetch slots and the fetch timeout. A fetch that does not succeed
// leaves the evidence pending for FetchPendingEvidence (until WeChat drops
// the media after 3 days).
func (b *Bot) fetchEvidence(e storage.Evidence) {
	b.fetchMu.Lock()
	defer b.fetchMu.Unlock()
	if b.closed {
		return
	}
	b.fetches.Add(1)
	go func() {
		defer b.fetches.Done()
		defer func() {
			if p := recover(); p != nil {
				b.log.Error("evidence: panic", "evidence", e.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		select {
		case b.fetchSlots <- struct{}{}:
		case <-b.stop.Done():
			return
		}
		defer func() { <-b.fetchSlots }()
		b.fetchOnce(b.stop, e)
	}()
}

// fetchOnce tries a few times to fetch e and store it.
func (b *Bot) fetchOnce(ctx context.Context, e storage.Evidence) {
	for attempt := 1; ; attempt++ {
		fctx, cancel := context.WithTimeout(ctx, b.evidenceTimeout)
		data, ctype, err := b.media.FetchMedia(fctx, e.MediaID)
		cancel()
		tooLarge := errors.Is(err, ErrMediaTooLarge)
		if tooLarge {
			// Kept as a fact (an `evidence` event saying so), not as bytes.
			data, err = make([]byte, MaxMediaBytes+1), nil
		}
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, b.dbTimeout)
			_, err = b.store.StoreEvidence(sctx, e.ID, data, ctype, b.now())
			cancel()
			if err == nil {
				if tooLarge {
					b.log.Info("evidence: over 2 MB, not kept", "evidence", e.ID, "ticket", e.TicketID)
					b.tellSender(ctx, e, fmt.Sprintf("您刚才发送的照片超过 2 MB，未能作为 #%d 的办理材料保存，请压缩后重新发送。", e.TicketID))
				} else {
					b.log.Info("evidence: stored", "evidence", e.ID, "ticket", e.TicketID, "bytes", len(data))
				}
				return
			}
			b.log.Warn("evidence: cannot store", "evidence", e.ID, "err", err)
		}
		permanent := ErrCode(err) == 40007 // WeChat does not know the media id (expired)
		if permanent || attempt >= evidenceAttempts || ctx.Err() != nil {
			b.log.Warn("evidence: fetch failed", "evidence", e.ID, "ticket", e.TicketID, "permanent", permanent, "err", err)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.dbTimeout)
			if ferr := b.store.EvidenceFetchFailed(sctx, e.ID, err.Error(), permanent); ferr != nil {
				b.log.Warn("evidence: cannot record the failure", "evidence", e.ID, "err", ferr)
			}
			cancel()
			if permanent {
				b.tellSender(ctx, e, fmt.Sprintf("您刚才发送的照片未能从微信取回，没有作为 #%d 的办理材料保存，请重新发送。", e.TicketID))
			}
			return
		}
		select {
		case <-time.After(time.Duration(attempt*attempt) * b.fetchBackoff):
		case <-ctx.Done():
		}
	}
}

// tellSender tells the person who sent e, by a customer-service message
// (allowed: they wrote to the account moments ago), what became of it.
func (b *Bot) tellSender(ctx context.Context, e storage.Evidence, text string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.evidenceTimeout)
	defer cancel()
	p, err := b.store.Person(ctx, e.PersonID)
	if err != nil || p.OpenID == "" {
		b.log.Warn("evidence: cannot tell the sender", "evidence", e.ID, "err", err)
		return
	}
	if err := b.media.SendText(ctx, p.OpenID, text); err != nil {
		b.log.Warn("evidence: cannot tell the sender", "evidence", e.ID, "err", err)
	}
}

// FetchPendingEvidence starts fetching the evidence still pending (after a
// restart, or when WeChat's media API was down) as long as WeChat still
// keeps it, leaving alone images received in the last minutes, whose first
// fetch may be under way. It returns once the fetches are started.
func (b *Bot) FetchPendingEvidence(ctx context.Context) (int, error) {
	now := b.now()
	es, err := b.store.PendingEvidence(ctx, now.Add(-mediaLifetime), now.Add(-pendingGrace), 100)
	if err != nil {
		return 0, err
	}
	for _, e := range es {
		b.fetchEvidence(e)
	}
	return len(es), nil
}

const (
	// pendingGrace is how old a pending image must be before a sweep
	// fetches it again.
	pendingGrace = 2 * time.Minute
	// sweepEvery is how often Run looks for pending evidence.
	sweepEvery = 10 * time.Minute
)

// Run sweeps for pending evidence at start and every 10 minutes until ctx
// ends (serve runs it beside the dispatcher). Several replicas may run it: a
// fetch stored twice is stored once.
func (b *Bot) Run(ctx context.Context) error {
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		if n, err := b.FetchPendingEvidence(ctx); err != nil {
			b.log.Warn("evidence: sweep failed", "err", err)
		} else if n > 0 {
			b.log.Info("evidence: fetching pending images again", "count", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
