package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/api"
	"github.com/hotlinebot/hotlinebot/bot"
	"github.com/hotlinebot/hotlinebot/scheduler"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
)

func (a *app) serveCommand() *cobra.Command {
	var noMigrate, sandbox bool
	c := &cobra.Command{
		Use:   "serve [--no-migrate] [--sandbox]",
		Short: "运行服务：微信回调、HTTP 接口、H5 页面、提醒督办与推送",
		Long: `运行服务：先执行待执行的数据库迁移（--no-migrate 跳过），然后提供微信回调 /wechat、
HTTP 接口 /api/v1、H5 页面 /t/ 与 /d/、/healthz、/readyz、/metrics，并运行提醒督办调度与推送发送。
收到 SIGTERM 或 SIGINT 时平稳退出。

--sandbox：本地演示模式，在同一进程内运行模拟微信平台，推送打印在控制台；
用 hotlinebot sim say --user ID 文本 以某人的身份发消息。`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.serve(cmd.Context(), noMigrate, sandbox)
		},
	}
	c.Flags().BoolVar(&noMigrate, "no-migrate", false, "不执行数据库迁移（结构须已是最新）")
	c.Flags().BoolVar(&sandbox, "sandbox", false, "本地演示：使用模拟微信平台")
	return c
}

// serve runs the service until ctx ends.
func (a *app) serve(ctx context.Context, noMigrate, sandbox bool) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if err := cfg.Require("database.url", "admin.token"); err != nil {
		return err
	}
	if !sandbox {
		if err := cfg.Require("wechat.app_id", "wechat.app_secret", "wechat.token"); err != nil {
			return fmt.Errorf("%w (or run serve --sandbox for the simulated WeChat)", err)
		}
	}
	log := slog.New(bot.RedactingHandler(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	svc, err := newService(ctx, cfg, serviceOptions{
		Migrate: !noMigrate, Sandbox: sandbox, Now: a.now, Logger: log, Out: a.stdout,
	})
	if err != nil {
		return err
	}
	defer svc.Close()

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return hotlinebot.Errorf(hotlinebot.EUNAVAILABLE, "无法监听 server.listen %s：%v", cfg.Server.Listen, err)
	}
	srv := &http.Server{
		Handler:           svc.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if svc.sim != nil {
		svc.sim.SetCallbackURL("http://" + ln.Addr().String() + "/wechat")
	}
	log.Info("serving", "listen", ln.Addr().String(), "public_url", cfg.Server.PublicURL, "sandbox", sandbox)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	wait := svc.Start(ctx, errc)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case runErr = <-errc:
		log.Error("stopping after a failure", "err", runErr)
	}
	shutdown, done := context.WithTimeout(context.Background(), 15*time.Second)
	defer done()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	cancel()
	if err := svc.chat.Shutdown(shutdown); err != nil {
		log.Warn("bot shutdown", "err", err)
	}
	wait()
	log.Info("stopped")
	return runErr
}

// serviceOptions say how to build the service.
type serviceOptions struct {
	Migrate bool // apply pending migrations first
	Sandbox bool // run the simulated WeChat in-process and seed an empty database
	Now     func() time.Time
	Logger  *slog.Logger
	Out     io.Writer // the sandbox prints pushes here
}

// service is everything `serve` runs, wired: the HTTP handler (API, WeChat
// callback, H5 pages, health, metrics), the dispatcher and the scheduler.
// Tests build it the same way serve does.
type service struct {
	store   *storage.Store
	handler http.Handler
	disp    *scheduler.Dispatcher
	sched   *scheduler.Scheduler
	chat    *bot.Bot
	sim     *sandboxPlatform // nil unless sandbox
	links   *bot.Links
}

// newService opens the store and wires the service from cfg.
func newService(ctx context.Context, cfg *Config, o serviceOptions) (svc *service, err error) {
	log, now := o.Logger, o.Now
	cal, err := cfg.Calendar()
	if err != nil {
		return nil, err
	}
	if next := now().In(cal.Location()).Year() + 1; !cal.HasHolidayData(next) {
		log.Warn("the working calendar has no statutory holiday data for next year: add calendar.overrides once the State Council publishes it",
			"year", next)
	}

	// The store wakes the dispatcher after every commit that queued pushes;
	// the dispatcher needs the store, so the hook reads it once it exists.
	var dispatcher atomic.Pointer[scheduler.Dispatcher]
	store, err := openStore(ctx, cfg, storage.Options{
		Calendar: cal,
		Policy:   cfg.Policy(),
		Logger:   log,
		OutboxAdded: func() {
			if d := dispatcher.Load(); d != nil {
				d.Wake()
			}
		},
	}, o.Migrate)
	if err != nil {
		return nil, err
	}
	svc = &service{store: store}
	defer func() {
		if err != nil {
			svc.Close()
		}
	}()
	if o.Migrate {
		log.Info("migrations applied")
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	wcfg := cfg.WeChat
	templates := templatesOf(cfg)
	if o.Sandbox {
		svc.sim, err = startSandbox(ctx, cfg, store, o.Out, log)
		if err != nil {
			return nil, err
		}
		wcfg = svc.sim.config(wcfg)
		templates = svc.sim.templates(templates)
		log.Info("sandbox: the simulated WeChat runs in this process; every push is printed here",
			"api", svc.sim.URL())
		if err := seedSandbox(ctx, store, now(), log); err != nil {
			return nil, fmt.Errorf("sandbox: seed the demo district: %w", err)
		}
	}
	for _, k := range hotlinebot.NotificationKinds {
		if _, ok := templates[k]; !ok {
			log.Warn("no WeChat template configured for a notification kind: its pushes will fail and the office is told",
				"kind", k, "key", "wechat.templates."+string(k))
		}
	}

	wc, err := bot.NewWeChat(bot.WeChatConfig{
		AppID:          wcfg.AppID,
		AppSecret:      wcfg.AppSecret,
		Token:          wcfg.Token,
		EncodingAESKey: wcfg.EncodingAESKey,
		APIBaseURL:     wcfg.APIBaseURL,
		Cache:          store.TokenCache(now),
		Logger:         log,
	})
	if err != nil {
		return nil, err
	}
	svc.links = &bot.Links{
		Secret:    bot.DeriveLinkSecret(cfg.Admin.Token, wcfg.AppSecret),
		PublicURL: cfg.Server.PublicURL,
	}
	sender, err := bot.NewSender(wc, bot.SenderOptions{Templates: templates, Links: svc.links, Clock: now, Logger: log})
	if err != nil {
		return nil, err
	}
	svc.disp, err = scheduler.NewDispatcher(store, sender, scheduler.DispatcherOptions{
		Clock: now, Logger: log, Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	dispatcher.Store(svc.disp)

	svc.sched, err = newScheduler(cfg, store, cal, log, now, reg)
	if err != nil {
		return nil, err
	}
	svc.chat, err = bot.New(bot.Options{
		Store: store, WeChat: wc, Links: svc.links, Location: cal.Location(), Now: now, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	pages, err := bot.NewPages(bot.PagesOptions{
		Store: store, Links: svc.links, Clock: now, Location: cal.Location(), Logger: log,
	})
	if err != nil {
		return nil, err
	}
	apiServer := api.New(api.Options{
		Store:      store,
		AdminToken: cfg.Admin.Token,
		Clock:      now,
		Logger:     log,
		Location:   cal.Location(),
		Registry:   reg,
		Ready: func(ctx context.Context) error {
			current, err := store.MigrationsCurrent(ctx)
			if err != nil {
				return err
			}
			if !current {
				return errors.New("database migrations are not current")
			}
			return svc.sched.Healthy(now())
		},
		QRURL: func(ctx context.Context, scene string, expires time.Time) (string, error) {
			return wc.BindQR(ctx, scene, expires.Sub(now()))
		},
	})

	mux := http.NewServeMux()
	api.Register(mux, apiServer)
	mux.Handle("/wechat", svc.chat)
	pages.Register(mux)
	digestPage, err := bot.NewDigestPage(bot.PagesOptions{
		Store: store, Links: svc.links, Clock: now, Location: cal.Location(), Logger: log,
	})
	if err != nil {
		return nil, err
	}
	digestPage.Register(mux)
	svc.handler = mux
	return svc, nil
}

// Start runs the dispatcher and the scheduler until ctx ends, reporting a
// failure on errc; the returned func waits for them to stop.
func (svc *service) Start(ctx context.Context, errc chan<- error) (wait func()) {
	var wg sync.WaitGroup
	for name, run := range map[string]func(context.Context) error{
		"dispatcher": svc.disp.Run,
		"scheduler":  svc.sched.Run,
		"evidence":   svc.chat.Run, // fetches evidence images a restart cut short
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				select {
				case errc <- fmt.Errorf("%s: %w", name, err):
				default:
				}
			}
		}()
	}
	return wg.Wait
}

// Close releases what newService opened.
func (svc *service) Close() {
	if svc.sim != nil {
		svc.sim.Close()
	}
	if svc.store != nil {
		svc.store.Close()
	}
}

// templatesOf turns [wechat.templates.*] into the bot's templates.
func templatesOf(cfg *Config) map[hotlinebot.NotificationKind]bot.Template {
	out := make(map[hotlinebot.NotificationKind]bot.Template, len(cfg.WeChat.Templates))
	for kind, t := range cfg.WeChat.Templates {
		out[hotlinebot.NotificationKind(kind)] = bot.Template{ID: t.ID, Fields: t.Fields}
	}
	return out
}

// newScheduler builds the scheduler from the config; serve runs it, digest
// asks it for one day's digest.
func newScheduler(cfg *Config, store *storage.Store, cal hotlinebot.Calendar, log *slog.Logger, now func() time.Time, reg prometheus.Registerer) (*scheduler.Scheduler, error) {
	beforeSign, beforeDue := cfg.ReminderOffsets()
	var steps []scheduler.Step
	for _, s := range cfg.EscalationSteps() {
		steps = append(steps, scheduler.Step{After: s.After, Notify: s.Notify})
	}
	return scheduler.New(store, scheduler.Options{
		Clock:      now,
		Logger:     log,
		Tick:       cfg.Tick(),
		DigestCron: cfg.Scheduler.DigestCron,
		Location:   cal.Location(),
		Calendar:   cal,
		Reminders:  scheduler.Reminders{BeforeSign: beforeSign, BeforeDue: beforeDue},
		Escalation: steps,
		Registerer: reg,
	})
}
