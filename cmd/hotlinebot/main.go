// Command hotlinebot runs the district side of the 12345 hotline: `serve` is
// the service; the other commands are the office's tools (departments,
// people, routing rules, ticket import, actions, follow-ups, the report).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // calendar.timezone must load on hosts without a zoneinfo database

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one stops the program at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses (README, "Commands").
const (
	exitOK          = 0
	exitError       = 1 // the command failed: invalid input, a refused action, an internal error
	exitUsage       = 2 // the command line is wrong: unknown command or flag, missing argument
	exitNotFound    = 3 // the ticket, person or department named does not exist
	exitConflict    = 4 // the ticket's state does not allow the action, or the thing exists already
	exitForbidden   = 5 // the action is not the office's to take
	exitUnavailable = 6 // the database cannot be reached
	exitInterrupted = 130
)

// app is one run of the program: its environment, its flags, and what it
// opened, closed when the run ends.
type app struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time

	configFile string // --config
	output     string // -o

	cfg   *Config
	store *storage.Store
}

// run is the whole program: it parses args, runs the command and returns the
// exit status. Everything from the outside world comes in as an argument.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	defer a.close()

	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	c, err := root.ExecuteContextC(ctx)
	return a.exit(ctx, c, err)
}

// runError marks an error returned by a command's RunE, as opposed to one
// cobra returns while parsing the command line (a usage error).
type runError struct{ err error }

func (e runError) Error() string { return e.err.Error() }
func (e runError) Unwrap() error { return e.err }

// usageError is a command line that cannot run: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exit prints err (one line on stderr; an import's bad rows follow it)
// and returns the exit status.
func (a *app) exit(ctx context.Context, cmd *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil {
		// Whatever failed, it failed because the run was stopped.
		fmt.Fprintln(a.stderr, "hotlinebot: 已中断")
		return exitInterrupted
	}
	var run runError
	var usage usageError
	if !errors.As(err, &run) || errors.As(err, &usage) {
		path := "hotlinebot"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(a.stderr, "hotlinebot: %s（用法见 %s --help）\n", oneLine(err.Error()), path)
		return exitUsage
	}
	var bad *importErrors
	if errors.As(err, &bad) {
		fmt.Fprintf(a.stderr, "hotlinebot: %s\n", bad.Summary())
		for _, p := range bad.Problems {
			fmt.Fprintf(a.stderr, "  %s\n", p)
		}
		return exitError
	}
	msg := err.Error()
	if code := hotlinebot.ErrorCodeOf(err); code != hotlinebot.EINTERNAL {
		// A coded error's Message is the whole story, written for the clerk.
		msg = hotlinebot.ErrorMessage(err)
	}
	fmt.Fprintf(a.stderr, "hotlinebot: %s\n", oneLine(msg))
	switch hotlinebot.ErrorCodeOf(err) {
	case hotlinebot.ENOTFOUND:
		return exitNotFound
	case hotlinebot.ECONFLICT:
		return exitConflict
	case hotlinebot.EFORBIDDEN:
		return exitForbidden
	case hotlinebot.EUNAVAILABLE:
		return exitUnavailable
	}
	return exitError
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func (a *app) close() {
	if a.store != nil {
		a.store.Close()
		a.store = nil
	}
}

// config loads the configuration once per run.
func (a *app) config() (*Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	cfg, err := loadConfig(a.configFile, a.getenv)
	if err != nil {
		return nil, err
	}
	a.cfg = cfg
	return cfg, nil
}

// db opens the Store for a command that reads or changes data; the schema
// must be current (`hotlinebot migrate`).
func (a *app) db(ctx context.Context) (*storage.Store, *Config, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, nil, err
	}
	if a.store != nil {
		return a.store, cfg, nil
	}
	st, err := openStore(ctx, cfg, storage.Options{Logger: a.logger(slog.LevelWarn)}, false)
	if err != nil {
		return nil, nil, err
	}
	current, err := st.MigrationsCurrent(ctx)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	if !current {
		st.Close()
		return nil, nil, hotlinebot.Errorf(hotlinebot.ECONFLICT, "数据库结构不是最新的：请先运行 hotlinebot migrate")
	}
	a.store = st
	return st, cfg, nil
}

// logger writes the Store's logs to stderr, away from the data on stdout.
func (a *app) logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

// openStore connects to database.url with the config's calendar and deadline
// policy (opts adds the logger and the outbox hook) and, when migrate is
// set, applies the pending migrations. serve calls it too.
func openStore(ctx context.Context, cfg *Config, opts storage.Options, migrate bool) (*storage.Store, error) {
	if err := cfg.Require("database.url"); err != nil {
		return nil, err
	}
	if opts.Calendar == nil {
		cal, err := cfg.Calendar()
		if err != nil {
			return nil, err
		}
		opts.Calendar = cal
	}
	if opts.Policy.Urgency == nil {
		opts.Policy = cfg.Policy()
	}
	st, err := storage.Open(ctx, cfg.Database.URL, opts)
	if err != nil {
		cause := errors.Unwrap(err)
		if cause == nil {
			cause = err
		}
		msg := redactPassword(cause.Error(), cfg.Database.URL)
		return nil, &wrapped{hotlinebot.Errorf(hotlinebot.EUNAVAILABLE, "无法连接数据库（database.url）：%s", msg), err}
	}
	if migrate {
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

// redactPassword keeps the database password out of a message that may
// quote the URL (a URL that does not parse is quoted whole).
func redactPassword(msg, dbURL string) string {
	if u, err := url.Parse(dbURL); err == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			return strings.ReplaceAll(msg, pw, "xxxxx")
		}
		return msg
	}
	// Unparsable: hide whatever stands between "scheme://user:" and "@".
	if i := strings.Index(dbURL, "://"); i >= 0 {
		rest := dbURL[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 && colon+1 < at {
				return strings.ReplaceAll(msg, rest[colon+1:at], "xxxxx")
			}
		}
	}
	return msg
}

// wrapped is a coded error for people in front of the error it stands for.
type wrapped struct {
	coded *hotlinebot.Error
	err   error
}

func (w *wrapped) Error() string   { return w.coded.Message }
func (w *wrapped) Unwrap() []error { return []error{w.coded, w.err} }

// actor is who the CLI acts as: the office, through the command line.
func actor() hotlinebot.Actor {
	return hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelCLI}
}

func (a *app) jsonOutput() bool { return a.output == "json" }

// printJSON writes v as the one JSON document of the command's output.
func (a *app) printJSON(v any) error {
	return writeJSON(a.stdout, v)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printf writes text output.
func (a *app) printf(format string, args ...any) {
	fmt.Fprintf(a.stdout, format, args...)
}

// timeText is how the CLI shows a moment: in calendar.timezone, to the minute.
func (a *app) timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	loc := time.Local
	if a.cfg != nil {
		loc = a.cfg.Location()
	}
	return t.In(loc).Format("2006-01-02 15:04")
}

// timeJSON is a moment in -o json output: RFC 3339 in calendar.timezone, or null.
func timeJSON(t time.Time, cfg *Config) *string {
	if t.IsZero() {
		return nil
	}
	s := t.In(cfg.Location()).Format(time.RFC3339)
	return &s
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "hotlinebot",
		Short: "12345 热线工单机器人：区热线办的服务与工具",
		Long: `hotlinebot 通过微信公众号办理 12345 热线工单：受理、分派、签收、办结、提醒、督办、回访与季度统计。

serve 是常驻服务；其余命令是热线办的工具：单位、人员、路由规则、工单导入、工单办理、回访和统计报表。
配置文件：--config 指定，否则取环境变量 HOTLINEBOT_CONFIG，否则为当前目录的 config.toml。`,
		SilenceErrors:         true,
		SilenceUsage:          true,
		DisableFlagsInUseLine: true,
		Args:                  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("缺少命令")
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch a.output {
			case "", "text", "json":
				return nil
			}
			return usagef("-o %q 无效：应为 text 或 json", a.output)
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentFlags().StringVar(&a.configFile, "config", "", "配置文件（默认取 HOTLINEBOT_CONFIG，否则 ./config.toml）")
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "", "输出格式：text（默认）或 json（一个 JSON 文档）")
	root.PersistentFlags().BoolP("help", "h", false, "显示用法")
	root.SetUsageTemplate(usageTemplate)
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [命令]",
		Short: "显示命令的用法",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return usagef("没有命令 %q", strings.Join(args, " "))
			}
			return target.Help()
		},
	})
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{err.Error()}
	})

	root.AddCommand(
		a.migrateCommand(),
		a.serveCommand(),
		a.deptCommand(),
		a.userCommand(),
		a.rulesCommand(),
		a.ticketCommand(),
		a.followupCommand(),
		a.reportCommand(),
		a.digestCommand(),
		a.outboxCommand(),
		a.simCommand(),
	)
	markRunErrors(root)
	return root
}

// markRunErrors wraps every command's RunE so that exit can tell a failed
// command from a command line cobra could not parse.
func markRunErrors(c *cobra.Command) {
	c.DisableFlagsInUseLine = true
	if f := c.RunE; f != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := f(cmd, args); err != nil {
				return runError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markRunErrors(sub)
	}
}

// group is a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("缺少子命令")
		},
		DisableFlagsInUseLine: true,
	}
	c.AddCommand(subs...)
	return c
}

// Positional argument checks that fail as usage errors, in Chinese.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return usagef("没有命令 %q", cmd.CommandPath()+" "+args[0])
		}
		return usagef("多余的参数 %q", strings.Join(args, " "))
	}
	return nil
}

func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return usagef("缺少参数 %s", strings.Join(names[len(args):], " "))
		}
		if len(args) > len(names) {
			return usagef("多余的参数 %q", strings.Join(args[len(names):], " "))
		}
		return nil
	}
}

// need checks required flags, so the message is a clerk's and not cobra's.
func need(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usagef("缺少选项 %s", strings.Join(missing, " "))
	}
	return nil
}

const usageTemplate = `用法：{{if and .Runnable (not .HasAvailableSubCommands)}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} <命令>{{end}}{{if .HasExample}}

示例：
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

命令：{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

选项：
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

通用选项：
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

运行 "{{.CommandPath}} <命令> --help" 查看某个命令的用法。{{end}}
`
