package scheduler

import (
	"context"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
)

// DigestResult says what a digest run did.
type DigestResult = storage.DigestRun

// digestJob is the cron job: the digest of the day of now, once per cluster
// (the replicas' jobs fire together; the first does the work, the others find
// the day done).
func (s *Scheduler) digestJob(ctx context.Context, now time.Time) error {
	return s.job(ctx, "daily digest", func(ctx context.Context) error {
		run, err := s.store.QueueDigest(ctx, now, now, true, s.digestData)
		if err != nil {
			return err
		}
		s.digestDone.Store(run.Day.Format(time.DateOnly))
		if run.AlreadyRan {
			s.log.Info("daily digest already sent by another replica", "day", run.Day.Format(time.DateOnly))
			return nil
		}
		s.log.Info("daily digest queued", "day", run.Day.Format(time.DateOnly), "people", run.People, "pushes", run.Queued)
		return nil
	})
}

// catchUpDigest sends today's digest when its cron moment passed while no
// replica ran (within Options.DigestCatchUp of it): a restart at 08:30 must
// not cost the leaders their morning digest. Once this process has seen the
// day done it asks no more.
func (s *Scheduler) catchUpDigest(ctx context.Context, now time.Time) error {
	if s.opts.DigestCatchUp < 0 {
		return nil
	}
	local := now.In(s.opts.Location)
	day := local.Format(time.DateOnly)
	if done, _ := s.digestDone.Load().(string); done == day {
		return nil
	}
	y, m, d := local.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, s.opts.Location)
	moment := s.digest.Next(start.Add(-time.Second))
	if moment.IsZero() || moment.After(local) || local.Sub(moment) > s.opts.DigestCatchUp || moment.Format(time.DateOnly) != day {
		return nil
	}
	return s.digestJob(ctx, now)
}

// Digest sends the digest of date (zero: today, in Options.Location) now, as
// `hotlinebot digest [--date D]` asks: it returns when the pushes are queued.
// A person who already had that day's digest does not get it again. A day
// after today is refused: it has no figures yet, and queueing it would mark
// that morning's digest done before its day.
func (s *Scheduler) Digest(ctx context.Context, date time.Time) (DigestResult, error) {
	now := s.opts.Clock()
	if date.IsZero() {
		date = now
	}
	if day, today := date.In(s.opts.Location).Format(time.DateOnly), now.In(s.opts.Location).Format(time.DateOnly); day > today {
		return DigestResult{}, hotlinebot.Errorf(hotlinebot.EINVALID, "%s 还没到：只能发送今天（%s）或以前的日报", day, today)
	}
	var run DigestResult
	err := s.job(ctx, "digest", func(ctx context.Context) error {
		var err error
		run, err = s.store.QueueDigest(ctx, date, now, false, s.digestData)
		return err
	})
	if err == nil {
		s.log.Info("digest queued on demand", "day", run.Day.Format(time.DateOnly), "people", run.People, "pushes", run.Queued)
	}
	return run, err
}

// digestData is what the digest push shows: the figures in one line (the
// page it links to has them all); .Count is the number of open tickets.
func (s *Scheduler) digestData(p hotlinebot.Person, d storage.Digest) hotlinebot.TemplateData {
	scope := "全区"
	if d.Department != "" {
		scope = d.DepartmentName
	}
	return hotlinebot.TemplateData{
		Title:      scope + "工单日报",
		Department: scope,
		Date:       d.Day.Format(hotlinebot.LayoutDate),
		Count:      strconv.Itoa(d.Open),
		Note:       DigestLine(d.DigestFigures),
	}
}

// DigestLine is the digest in one short line, the most urgent first:
// "超期2 在办40 今日到期3 昨收12". It goes into a template's thing field (20
// characters), so it keeps the figures that fit, whole, rather than have
// the sender cut a number in half; the page has them all.
func DigestLine(f storage.DigestFigures) string {
	items := []string{
		fmt.Sprintf("超期%d", f.Overdue), fmt.Sprintf("在办%d", f.Open), fmt.Sprintf("今日到期%d", f.DueToday),
		fmt.Sprintf("昨收%d", f.Received), fmt.Sprintf("昨结%d", f.Completed),
	}
	if f.FollowUps > 0 {
		items = append(items, fmt.Sprintf("满意率%.0f%%", 100*f.SatisfactionRate()))
	}
	line := items[0]
	for _, it := range items[1:] {
		if utf8.RuneCountInString(line)+1+utf8.RuneCountInString(it) > digestLineMax {
			break
		}
		line += " " + it
	}
	return line
}

// digestLineMax is how long a thing field's value may be.
const digestLineMax = 20
