package storage

// Binding a WeChat openid to a person with a one-time code, and the 公众号's
// follow state (unsubscribe, subscribe again).

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/jmoiron/sqlx"
)

const (
	// BindFailureLimit wrong codes within BindFailureWindow lock the sender
	// out for BindLockout: 8 digits cannot be guessed at that pace.
	BindFailureLimit  = 5
	BindFailureWindow = 15 * time.Minute
	BindLockout       = 15 * time.Minute
)

func bindFailKey(openid string) string { return "bind:fail:" + openid }
func bindLockKey(openid string) string { return "bind:lock:" + openid }

// Bind binds openid to the person a bind code was issued for: the code works
// once and only before it expires; an openid bound to someone else is moved
// off them (their open tickets go back to their department). A wrong,
// expired or used code is EINVALID with a message for the sender; after
// BindFailureLimit of them within BindFailureWindow the sender is refused
// for BindLockout, even with a right code. Sending the code again from the
// openid it bound is not a failure: it returns the person.
func (s *Store) Bind(ctx context.Context, openid, code string, now time.Time) (hotlinebot.Person, error) {
	var (
		p       hotlinebot.Person
		bindErr error
		queued  int
	)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		p, queued, bindErr = s.bindTx(ctx, tx, openid, code, now)
		if bindErr != nil && hotlinebot.ErrorCodeOf(bindErr) == hotlinebot.EINTERNAL {
			return bindErr
		}
		return nil // a refusal commits: the failed attempt counts
	})
	if err != nil {
		return hotlinebot.Person{}, err
	}
	s.notifyOutbox(queued)
	return p, bindErr
}

// BindTx is Bind inside tx (for an Inbound handler). On EINVALID the failed
// attempt is written in tx: commit it, or the throttle does not count it.
func (s *Store) BindTx(ctx context.Context, tx *sqlx.Tx, openid, code string, now time.Time) (hotlinebot.Person, error) {
	p, _, err := s.bindTx(ctx, tx, openid, code, now)
	return p, err
}

func (s *Store) bindTx(ctx context.Context, tx *sqlx.Tx, openid, code string, now time.Time) (hotlinebot.Person, int, error) {
	if openid == "" {
		return hotlinebot.Person{}, 0, fmt.Errorf("storage: bind: empty openid")
	}
	code = normalizeBindCode(code)
	if code == "" {
		return hotlinebot.Person{}, 0, hotlinebot.Errorf(hotlinebot.EINVALID, "请发送“绑定 绑定码”，绑定码可向热线办索取")
	}
	var lockedUntil time.Time
	err := tx.GetContext(ctx, &lockedUntil,
		`SELECT expires_at FROM kv WHERE key = $1 AND expires_at > $2`, bindLockKey(openid), now)
	switch {
	case err == nil:
		return hotlinebot.Person{}, 0, lockoutError(lockedUntil.Sub(now))
	case !notFound(err):
		return hotlinebot.Person{}, 0, fmt.Errorf("storage: bind: lockout: %w", err)
	}

	var bc struct {
		PersonID  int64     `db:"person_id"`
		ExpiresAt time.Time `db:"expires_at"`
		Used      bool      `db:"used"`
	}
	err = tx.GetContext(ctx, &bc,
		`SELECT person_id, expires_at, used_at IS NOT NULL AS used FROM bind_codes WHERE code_hash = $1 FOR UPDATE`,
		HashBindCode(code))
	if notFound(err) {
		return hotlinebot.Person{}, 0, s.bindFailure(ctx, tx, openid, now, "绑定码不正确，请核对后重新发送“绑定 绑定码”")
	}
	if err != nil {
		return hotlinebot.Person{}, 0, fmt.Errorf("storage: bind: code: %w", err)
	}
	p, err := getPerson(ctx, tx, bc.PersonID, true)
	if err != nil {
		return hotlinebot.Person{}, 0, err
	}
	switch {
	case bc.Used && p.OpenID == openid && !p.Disabled:
		return p, 0, nil // sent again by the one it bound
	case bc.Used:
		return hotlinebot.Person{}, 0, s.bindFailure(ctx, tx, openid, now, "这个绑定码已经用过了，请向热线办索取新的绑定码")
	case !now.Before(bc.ExpiresAt):
		return hotlinebot.Person{}, 0, s.bindFailure(ctx, tx, openid, now, "这个绑定码已过期，请向热线办索取新的绑定码")
	case p.Disabled:
		return hotlinebot.Person{}, 0, s.bindFailure(ctx, tx, openid, now, "这个绑定码对应的人员已停用，不能绑定")
	}

	// The openid may be bound to someone else (a phone passed on): that
	// person is unbound, and their open tickets go back to their department.
	queued := 0
	var others []int64
	if err := tx.SelectContext(ctx, &others,
		`SELECT id FROM people WHERE openid = $1 AND id <> $2 FOR UPDATE`, openid, p.ID); err != nil {
		return hotlinebot.Person{}, 0, fmt.Errorf("storage: bind: previous holder: %w", err)
	}
	for _, id := range others {
		other, err := getPerson(ctx, tx, id, false)
		if err != nil {
			return hotlinebot.Person{}, queued, err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE people SET openid = NULL, reachable = false, bound_at = NULL WHERE id = $1`, id); err != nil {
			return hotlinebot.Person{}, queued, fmt.Errorf("storage: bind: unbind previous holder: %w", err)
		}
		n, err := s.returnTicketsTx(ctx, tx, other, hotlinebot.Actor{Channel: hotlinebot.ChannelWeChat}, now, "的微信已绑定给他人")
		queued += n
		if err != nil {
			return hotlinebot.Person{}, queued, err
		}
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE people SET openid = $2, reachable = true, bound_at = $3, unreachable_at = NULL WHERE id = $1`,
		p.ID, openid, now); err != nil {
		return hotlinebot.Person{}, queued, fmt.Errorf("storage: bind: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE bind_codes SET used_at = $2 WHERE code_hash = $1`, HashBindCode(code), now); err != nil {
		return hotlinebot.Person{}, queued, fmt.Errorf("storage: bind: use code: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM kv WHERE key = $1`, bindFailKey(openid)); err != nil {
		return hotlinebot.Person{}, queued, fmt.Errorf("storage: bind: clear failures: %w", err)
	}
	p, err = getPerson(ctx, tx, p.ID, false)
	return p, queued, err
}

// bindFailure counts a wrong code from openid and returns the refusal: msg,
// or the lockout once the limit is reached.
func (s *Store) bindFailure(ctx context.Context, tx *sqlx.Tx, openid string, now time.Time, msg string) error {
	var n string
	err := tx.GetContext(ctx, &n,
		`INSERT INTO kv (key, value, expires_at) VALUES ($1, '1', $3)
		 ON CONFLICT (key) DO UPDATE SET
		   value = CASE WHEN kv.expires_at > $2 THEN (kv.value::int + 1)::text ELSE '1' END,
		   expires_at = CASE WHEN kv.expires_at > $2 THEN kv.expires_at ELSE $3 END
		 RETURNING value`, bindFailKey(openid), now, now.Add(BindFailureWindow))
	if err != nil {
		return fmt.Errorf("storage: bind: count failure: %w", err)
	}
	if count, _ := strconv.Atoi(n); count < BindFailureLimit {
		return hotlinebot.Errorf(hotlinebot.EINVALID, "%s", msg)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO kv (key, value, expires_at) VALUES ($1, '1', $2)
		 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
		bindLockKey(openid), now.Add(BindLockout)); err != nil {
		return fmt.Errorf("storage: bind: lock out: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM kv WHERE key = $1`, bindFailKey(openid)); err != nil {
		return fmt.Errorf("storage: bind: lock out: %w", err)
	}
	s.log.Warn("bind: too many wrong codes; sender locked out", "openid", openid, "minutes", BindLockout.Minutes())
	return lockoutError(BindLockout)
}

func lockoutError(left time.Duration) error {
	minutes := int(math.Ceil(left.Minutes()))
	if minutes < 1 {
		minutes = 1
	}
	return hotlinebot.Errorf(hotlinebot.EINVALID, "尝试次数过多，请 %d 分钟后再试", minutes)
}

// normalizeBindCode reads a code as people type it: spaces anywhere and
// full-width digits are fine.
func normalizeBindCode(code string) string {
	var b strings.Builder
	for _, r := range code {
		switch {
		case r >= '０' && r <= '９':
			b.WriteRune('0' + (r - '０'))
		case r == ' ' || r == '\u3000' || r == '\t' || r == '\n' || r == '\r' || r == '-':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MarkUnreachable records that the person bound to openid unfollowed the
// 公众号 (`unsubscribe`): they get no pushes until they follow again, and the
// office is told. A repeat changes nothing; ENOTFOUND when nobody is bound to openid.
func (s *Store) MarkUnreachable(ctx context.Context, openid string, now time.Time) (hotlinebot.Person, error) {
	var (
		p      hotlinebot.Person
		queued int
	)
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		p, queued, err = s.markUnreachableTx(ctx, tx, openid, now)
		return err
	})
	if err != nil {
		return hotlinebot.Person{}, err
	}
	s.notifyOutbox(queued)
	return p, nil
}

// MarkUnreachableTx is MarkUnreachable inside tx (for an Inbound handler).
func (s *Store) MarkUnreachableTx(ctx context.Context, tx *sqlx.Tx, openid string, now time.Time) (hotlinebot.Person, error) {
	p, _, err := s.markUnreachableTx(ctx, tx, openid, now)
	return p, err
}

func (s *Store) markUnreachableTx(ctx context.Context, tx *sqlx.Tx, openid string, now time.Time) (hotlinebot.Person, int, error) {
	p, err := s.personByOpenIDTx(ctx, tx, openid)
	if err != nil {
		return p, 0, err
	}
	if !p.Reachable {
		return p, 0, nil
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE people SET reachable = false, unreachable_at = $2 WHERE id = $1`, p.ID, now); err != nil {
		return p, 0, fmt.Errorf("storage: unsubscribe: %w", err)
	}
	p.Reachable, p.Unreachable = false, now
	// Who and what first: a template's thing value keeps 20 characters.
	what := p.Role.Chinese()
	switch {
	case p.DistrictLeader():
		what = "区领导"
	case p.Department != "":
		var dept string
		if err := tx.GetContext(ctx, &dept, `SELECT name FROM departments WHERE code = $1`, p.Department); err != nil {
			return p, 0, fmt.Errorf("storage: unsubscribe: department: %w", err)
		}
		what = dept + what
	}
	note := p.Name + "已取消关注公众号，收不到工单推送（" + what + "）"
	key := fmt.Sprintf("notice:unsubscribe:%d:%d", p.ID, now.Unix())
	n, err := s.queueOfficeNotice(ctx, tx, key, 0, hotlinebot.TemplateData{Note: note}, now)
	return p, n, err
}

// MarkReachable records that the person bound to openid follows the 公众号
// again (a plain `subscribe`); ENOTFOUND when nobody is bound to openid.
func (s *Store) MarkReachable(ctx context.Context, openid string, now time.Time) (hotlinebot.Person, error) {
	var p hotlinebot.Person
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		p, err = s.MarkReachableTx(ctx, tx, openid, now)
		return err
	})
	return p, err
}

// MarkReachableTx is MarkReachable inside tx (for an Inbound handler).
func (s *Store) MarkReachableTx(ctx context.Context, tx *sqlx.Tx, openid string, now time.Time) (hotlinebot.Person, error) {
	p, err := s.personByOpenIDTx(ctx, tx, openid)
	if err != nil || p.Reachable {
		return p, err
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE people SET reachable = true, unreachable_at = NULL WHERE id = $1`, p.ID); err != nil {
		return p, fmt.Errorf("storage: subscribe: %w", err)
	}
	p.Reachable, p.Unreachable = true, time.Time{}
	return p, nil
}

// personByOpenIDTx locks the enabled person bound to openid.
func (s *Store) personByOpenIDTx(ctx context.Context, tx *sqlx.Tx, openid string) (hotlinebot.Person, error) {
	var id int64
	err := tx.GetContext(ctx, &id, `SELECT id FROM people WHERE openid = $1 AND NOT disabled`, openid)
	if notFound(err) || openid == "" {
		return hotlinebot.Person{}, hotlinebot.Errorf(hotlinebot.ENOTFOUND, "该微信号尚未绑定")
	}
	if err != nil {
		return hotlinebot.Person{}, fmt.Errorf("storage: person by openid: %w", err)
	}
	return getPerson(ctx, tx, id, true)
}
