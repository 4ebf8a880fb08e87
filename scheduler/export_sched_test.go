package scheduler

import (
	"context"
	"time"
)

// RunDigestJob runs the cron job's body as the digest_cron moment would.
func (s *Scheduler) RunDigestJob(ctx context.Context, now time.Time) error {
	return s.digestJob(ctx, now)
}

// RunJob runs fn as the scheduler runs each job: under the job timeout, a
// panic turned into an error.
func (s *Scheduler) RunJob(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.job(ctx, "test job", fn)
}

// FireDue fires what is due at now without planning first, as a replica
// does when another one, with other settings, planned the alarms.
func (s *Scheduler) FireDue(ctx context.Context, now time.Time) error {
	return s.fireAll(ctx, now)
}
