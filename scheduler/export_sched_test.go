package scheduler

import (
	"context"
	"time"
)

// RunDigestJob runs the cron job's body as the digest_cron moment would.
func (s *Scheduler) RunDigestJob(ctx context.Context, now time.Time) error {
	return s.digestJob(ctx, now)
}
