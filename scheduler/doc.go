// Package scheduler is the background work of `hotlinebot serve`: the outbox
// dispatcher, which sends queued pushes through a Sender (the bot's WeChat
// template sender, wired by cmd), and the ticker and cron jobs that queue
// reminders, escalations and digests.
//
// Every replica runs the same loops; PostgreSQL coordinates them. The
// dispatcher claims outbox rows with FOR UPDATE SKIP LOCKED under a lease,
// so two replicas never send one row at the same time, and uses the row id
// as WeChat's client_msg_id, so a resend after a crash within WeChat's
// 10-minute window is dropped by WeChat rather than delivered twice.
package scheduler
