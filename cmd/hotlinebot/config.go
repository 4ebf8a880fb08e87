package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/hotlinebot/hotlinebot"
	"github.com/robfig/cron/v3"
)

// defaultConfigFile is read when neither --config nor HOTLINEBOT_CONFIG names a file.
const defaultConfigFile = "config.toml"

// Config is the configuration file (CONTRACT.md, "Binary and configuration"),
// with the environment's overrides applied and every value checked. The
// parsed forms of its values are kept next to them, so a Config that loaded
// is one that works.
type Config struct {
	Server   ServerConfig   `toml:"server"`
	Database DatabaseConfig `toml:"database"`
	WeChat   WeChatConfig   `toml:"wechat"`
	Admin    AdminConfig    `toml:"admin"`
	// CalendarConfig is [calendar]; the Calendar method builds the calendar from it.
	CalendarConfig CalendarConfig     `toml:"calendar"`
	Scheduler      SchedulerConfig    `toml:"scheduler"`
	Deadlines      DeadlinesConfig    `toml:"deadlines"`
	Reminders      RemindersConfig    `toml:"reminders"`
	Escalation     []EscalationConfig `toml:"escalation"`

	// File is the file the configuration came from, "" when there was none.
	File string `toml:"-"`

	loc        *time.Location
	tick       time.Duration
	policy     hotlinebot.DeadlinePolicy
	beforeSign []hotlinebot.Span
	beforeDue  []hotlinebot.Span
	steps      []EscalationStep
}

type ServerConfig struct {
	Listen    string `toml:"listen"`
	PublicURL string `toml:"public_url"`
}

type DatabaseConfig struct {
	URL string `toml:"url"`
}

type WeChatConfig struct {
	AppID          string                    `toml:"app_id"`
	AppSecret      string                    `toml:"app_secret"`
	Token          string                    `toml:"token"`
	EncodingAESKey string                    `toml:"encoding_aes_key"`
	APIBaseURL     string                    `toml:"api_base_url"`
	Templates      map[string]TemplateConfig `toml:"templates"`
}

// TemplateConfig is the WeChat template message of one notification kind:
// Fields maps the template's keys to text/template expressions over
// hotlinebot.TemplateData.
type TemplateConfig struct {
	ID     string            `toml:"id"`
	Fields map[string]string `toml:"fields"`
}

type AdminConfig struct {
	Token string `toml:"token"`
}

type CalendarConfig struct {
	Timezone   string             `toml:"timezone"`
	WorkdayEnd string             `toml:"workday_end"`
	Overrides  []CalendarOverride `toml:"overrides"`
}

// CalendarOverride says whether one day is worked, for days the statutory
// data lacks or gets wrong.
type CalendarOverride struct {
	Date string `toml:"date"`
	Work bool   `toml:"work"`
}

type SchedulerConfig struct {
	Tick       string `toml:"tick"`
	DigestCron string `toml:"digest_cron"`
}

type DeadlinesConfig struct {
	Normal     PolicyConfig            `toml:"normal"`
	Urgent     PolicyConfig            `toml:"urgent"`
	Categories map[string]PolicyConfig `toml:"categories"`
}

// PolicyConfig holds spans as written ("2h", "5wd"); "" keeps the default.
type PolicyConfig struct {
	Sign         string `toml:"sign"`
	Handle       string `toml:"handle"`
	ReturnWindow string `toml:"return_window"`
	MaxExtension string `toml:"max_extension"`
}

type RemindersConfig struct {
	BeforeSign []string `toml:"before_sign"`
	BeforeDue  []string `toml:"before_due"`
}

type EscalationConfig struct {
	After  string   `toml:"after"`
	Notify []string `toml:"notify"`
}

// EscalationStep is one parsed [[escalation]] step: After this long past the
// 办理 deadline, Notify these audiences.
type EscalationStep struct {
	After  hotlinebot.Span
	Notify []hotlinebot.Audience
}

// defaultConfig holds the defaults of every key that has one.
func defaultConfig() Config {
	return Config{
		Server:         ServerConfig{Listen: "127.0.0.1:8080", PublicURL: "http://127.0.0.1:8080"},
		WeChat:         WeChatConfig{APIBaseURL: "https://api.weixin.qq.com"},
		CalendarConfig: CalendarConfig{Timezone: "Asia/Shanghai", WorkdayEnd: "18:00"},
		Scheduler:      SchedulerConfig{Tick: "30s", DigestCron: "30 8 * * *"},
		Reminders:      RemindersConfig{BeforeSign: []string{"2h"}, BeforeDue: []string{"1wd", "2h"}},
		Escalation: []EscalationConfig{
			{After: "0s", Notify: []string{"assignee", "department_leaders"}},
			{After: "1wd", Notify: []string{"office"}},
			{After: "3wd", Notify: []string{"district_leaders"}},
		},
	}
}

// configPath resolves which file to read: --config, else HOTLINEBOT_CONFIG,
// else ./config.toml. explicit reports whether the user named the file, in
// which case it must exist.
func configPath(flag string, getenv func(string) string) (path string, explicit bool) {
	if flag != "" {
		return flag, true
	}
	if p := getenv("HOTLINEBOT_CONFIG"); p != "" {
		return p, true
	}
	return defaultConfigFile, false
}

// loadConfig reads the configuration: the file named by path (or, when path
// is "", by HOTLINEBOT_CONFIG, else ./config.toml, which may be missing), then
// the HOTLINEBOT_<SECTION>_<KEY> overrides from getenv, then the defaults, and
// checks every value. Required values are checked by Require, per command.
func loadConfig(path string, getenv func(string) string) (*Config, error) {
	path, explicit := configPath(path, getenv)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		data, path = nil, ""
	case err != nil:
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := parseConfig(string(data), getenv)
	if err != nil {
		if path != "" {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	c.File = path
	return c, nil
}

// parseConfig is loadConfig on the file's text.
func parseConfig(text string, getenv func(string) string) (*Config, error) {
	var c Config
	md, err := toml.Decode(text, &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("toml: line %d: %s", parseErrorLine(text, pe.Position), pe.Message)
		}
		return nil, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		// A table that is unknown is named once, not with each of its keys.
		var keys []string
		for _, k := range und {
			name := k.String()
			if !slices.ContainsFunc(keys, func(p string) bool { return strings.HasPrefix(name, p+".") }) {
				keys = append(keys, name)
			}
		}
		if len(keys) == 1 {
			return nil, fmt.Errorf("unknown key %s", keys[0])
		}
		return nil, fmt.Errorf("unknown keys %s", strings.Join(keys, ", "))
	}
	c.applyEnv(getenv)
	c.applyDefaults(md)
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// parseErrorLine is the line of a TOML syntax error's offset: the decoder
// counts a line ended by the newline it stopped at ("[admin" without its
// "]") as the next one.
func parseErrorLine(text string, p toml.Position) int {
	if p.Start <= 0 || p.Start >= len(text) {
		return p.Line
	}
	return 1 + strings.Count(text[:p.Start], "\n")
}

// envKeys lists the scalar keys of the top-level sections, which the
// environment may override as HOTLINEBOT_<SECTION>_<KEY>.
func (c *Config) envKeys() []struct {
	key string
	val *string
} {
	return []struct {
		key string
		val *string
	}{
		{"server.listen", &c.Server.Listen},
		{"server.public_url", &c.Server.PublicURL},
		{"database.url", &c.Database.URL},
		{"wechat.app_id", &c.WeChat.AppID},
		{"wechat.app_secret", &c.WeChat.AppSecret},
		{"wechat.token", &c.WeChat.Token},
		{"wechat.encoding_aes_key", &c.WeChat.EncodingAESKey},
		{"wechat.api_base_url", &c.WeChat.APIBaseURL},
		{"admin.token", &c.Admin.Token},
		{"calendar.timezone", &c.CalendarConfig.Timezone},
		{"calendar.workday_end", &c.CalendarConfig.WorkdayEnd},
		{"scheduler.tick", &c.Scheduler.Tick},
		{"scheduler.digest_cron", &c.Scheduler.DigestCron},
	}
}

// envName is the environment variable that overrides key: server.public_url
// → HOTLINEBOT_SERVER_PUBLIC_URL.
func envName(key string) string {
	return "HOTLINEBOT_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func (c *Config) applyEnv(getenv func(string) string) {
	for _, k := range c.envKeys() {
		if v := getenv(envName(k.key)); v != "" {
			*k.val = v
		}
	}
}

// applyDefaults fills what neither the file nor the environment set. A list
// the file sets, even to [], replaces the default list.
func (c *Config) applyDefaults(md toml.MetaData) {
	d := defaultConfig()
	dk := d.envKeys()
	for i, k := range c.envKeys() {
		if *k.val == "" {
			*k.val = *dk[i].val
		}
	}
	if !md.IsDefined("reminders", "before_sign") {
		c.Reminders.BeforeSign = d.Reminders.BeforeSign
	}
	if !md.IsDefined("reminders", "before_due") {
		c.Reminders.BeforeDue = d.Reminders.BeforeDue
	}
	if !md.IsDefined("escalation") {
		c.Escalation = d.Escalation
	}
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// check validates every value and keeps its parsed form; the error names the key.
func (c *Config) check() error {
	if _, port, err := net.SplitHostPort(c.Server.Listen); err != nil || port == "" {
		return fmt.Errorf("server.listen: %q is not an address such as 127.0.0.1:8080 or :8080", c.Server.Listen)
	}
	if err := checkURL("server.public_url", c.Server.PublicURL); err != nil {
		return err
	}
	if err := checkURL("wechat.api_base_url", c.WeChat.APIBaseURL); err != nil {
		return err
	}
	if k := c.WeChat.EncodingAESKey; k != "" && len(k) != 43 {
		return fmt.Errorf("wechat.encoding_aes_key: must be 43 characters, not %d", len(k))
	}
	if err := checkTemplates(c.WeChat.Templates); err != nil {
		return err
	}

	loc, err := time.LoadLocation(c.CalendarConfig.Timezone)
	if err != nil || c.CalendarConfig.Timezone == "Local" {
		return fmt.Errorf("calendar.timezone: unknown time zone %q (an IANA name such as Asia/Shanghai)", c.CalendarConfig.Timezone)
	}
	c.loc = loc
	if !hhmm.MatchString(c.CalendarConfig.WorkdayEnd) {
		return fmt.Errorf("calendar.workday_end: %q is not a time of day as HH:MM", c.CalendarConfig.WorkdayEnd)
	}
	seen := map[string]int{}
	for i, o := range c.CalendarConfig.Overrides {
		key := fmt.Sprintf("calendar.overrides[%d].date", i)
		if _, err := time.Parse(time.DateOnly, o.Date); err != nil {
			return fmt.Errorf("%s: %q is not a date as 2006-01-02", key, o.Date)
		}
		if j, dup := seen[o.Date]; dup {
			return fmt.Errorf("%s: %s is already given by calendar.overrides[%d]", key, o.Date, j)
		}
		seen[o.Date] = i
	}

	c.tick, err = time.ParseDuration(c.Scheduler.Tick)
	if err != nil || c.tick <= 0 {
		return fmt.Errorf("scheduler.tick: %q is not a positive duration such as 30s", c.Scheduler.Tick)
	}
	if _, err := cron.ParseStandard(c.Scheduler.DigestCron); err != nil {
		return fmt.Errorf("scheduler.digest_cron: %q: %v", c.Scheduler.DigestCron, err)
	}

	c.policy = hotlinebot.DefaultDeadlinePolicy()
	policy := hotlinebot.DeadlinePolicy{
		Urgency:    map[hotlinebot.Urgency]hotlinebot.Policy{},
		Categories: map[string]hotlinebot.Policy{},
	}
	for u, p := range c.policy.Urgency {
		policy.Urgency[u] = p
	}
	for name, p := range c.policy.Categories {
		policy.Categories[name] = p
	}
	for _, u := range []struct {
		urgency hotlinebot.Urgency
		conf    PolicyConfig
	}{{hotlinebot.UrgencyNormal, c.Deadlines.Normal}, {hotlinebot.UrgencyUrgent, c.Deadlines.Urgent}} {
		p, err := u.conf.over(policy.Urgency[u.urgency], "deadlines."+string(u.urgency))
		if err != nil {
			return err
		}
		policy.Urgency[u.urgency] = p
	}
	for _, name := range sortedKeys(c.Deadlines.Categories) {
		p, err := c.Deadlines.Categories[name].over(policy.Categories[name], fmt.Sprintf("deadlines.categories.%q", name))
		if err != nil {
			return err
		}
		policy.Categories[name] = p
	}
	c.policy = policy

	if c.beforeSign, err = parseOffsets("reminders.before_sign", c.Reminders.BeforeSign); err != nil {
		return err
	}
	if c.beforeDue, err = parseOffsets("reminders.before_due", c.Reminders.BeforeDue); err != nil {
		return err
	}
	c.steps = nil
	for i, e := range c.Escalation {
		key := fmt.Sprintf("escalation[%d]", i)
		after, err := hotlinebot.ParseSpan(e.After)
		if err != nil {
			return fmt.Errorf("%s.after: %q is not a duration such as 0s, 2h or 1wd", key, e.After)
		}
		if len(e.Notify) == 0 {
			return fmt.Errorf("%s.notify: name at least one of %s", key, audienceList())
		}
		step := EscalationStep{After: after}
		for j, a := range e.Notify {
			if !slices.Contains(hotlinebot.EscalationAudiences, hotlinebot.Audience(a)) {
				return fmt.Errorf("%s.notify[%d]: unknown audience %q (one of %s)", key, j, a, audienceList())
			}
			step.Notify = append(step.Notify, hotlinebot.Audience(a))
		}
		c.steps = append(c.steps, step)
	}
	return nil
}

// over returns base with the spans this config sets; key names the table.
func (pc PolicyConfig) over(base hotlinebot.Policy, key string) (hotlinebot.Policy, error) {
	for _, f := range []struct {
		name string
		text string
		span *hotlinebot.Span
	}{
		{"sign", pc.Sign, &base.Sign},
		{"handle", pc.Handle, &base.Handle},
		{"return_window", pc.ReturnWindow, &base.ReturnWindow},
		{"max_extension", pc.MaxExtension, &base.MaxExtension},
	} {
		if f.text == "" {
			continue
		}
		s, err := hotlinebot.ParseSpan(f.text)
		if err != nil {
			return base, fmt.Errorf("%s.%s: %q is not a duration such as 2h, 90s or 5wd", key, f.name, f.text)
		}
		if s.IsZero() && f.name != "return_window" && f.name != "max_extension" {
			return base, fmt.Errorf("%s.%s: a deadline must be longer than 0", key, f.name)
		}
		*f.span = s
	}
	return base, nil
}

func parseOffsets(key string, list []string) ([]hotlinebot.Span, error) {
	out := make([]hotlinebot.Span, 0, len(list))
	for i, v := range list {
		s, err := hotlinebot.ParseSpan(v)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %q is not a duration such as 2h, 90s or 1wd", key, i, v)
		}
		if s.IsZero() {
			return nil, fmt.Errorf("%s[%d]: a reminder must come some time before the deadline, not %q", key, i, v)
		}
		out = append(out, s)
	}
	return out, nil
}

func checkURL(key, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q is not an http(s) URL", key, v)
	}
	return nil
}

func checkTemplates(ts map[string]TemplateConfig) error {
	for _, kind := range sortedKeys(ts) {
		key := "wechat.templates." + kind
		if !slices.Contains(hotlinebot.NotificationKinds, hotlinebot.NotificationKind(kind)) {
			names := make([]string, len(hotlinebot.NotificationKinds))
			for i, k := range hotlinebot.NotificationKinds {
				names[i] = string(k)
			}
			return fmt.Errorf("%s: unknown notification kind %q (one of %s)", key, kind, strings.Join(names, ", "))
		}
		t := ts[kind]
		if t.ID == "" {
			return fmt.Errorf("%s.id: the template id is required", key)
		}
		for _, field := range sortedKeys(t.Fields) {
			fk := key + ".fields." + field
			tmpl, err := template.New(fk).Option("missingkey=error").Parse(t.Fields[field])
			if err != nil {
				return fmt.Errorf("%s: %v", fk, err)
			}
			// Executing on empty data catches names TemplateData lacks ({{.Reff}}).
			if err := tmpl.Execute(discard{}, hotlinebot.TemplateData{}); err != nil {
				return fmt.Errorf("%s: %v", fk, err)
			}
		}
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func audienceList() string {
	names := make([]string, len(hotlinebot.EscalationAudiences))
	for i, a := range hotlinebot.EscalationAudiences {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Require checks that the given keys ("database.url", "admin.token",
// "wechat.app_id"…) have values; each command asks for what it needs.
func (c *Config) Require(keys ...string) error {
	for _, key := range keys {
		var v string
		for _, k := range c.envKeys() {
			if k.key == key {
				v = *k.val
			}
		}
		if v == "" {
			where := "the config file"
			if c.File != "" {
				where = c.File
			}
			return fmt.Errorf("config: %s is required: set it in %s or in %s", key, where, envName(key))
		}
	}
	return nil
}

// Location is calendar.timezone.
func (c *Config) Location() *time.Location { return c.loc }

// Tick is scheduler.tick.
func (c *Config) Tick() time.Duration { return c.tick }

// Calendar is the working calendar: lunar-go's statutory data in
// calendar.timezone with calendar.overrides.
func (c *Config) Calendar() (*hotlinebot.WorkCalendar, error) {
	overrides := make(map[string]bool, len(c.CalendarConfig.Overrides))
	for _, o := range c.CalendarConfig.Overrides {
		overrides[o.Date] = o.Work
	}
	cal, err := hotlinebot.NewWorkCalendar(c.loc, c.CalendarConfig.WorkdayEnd, overrides)
	if err != nil {
		return nil, fmt.Errorf("config: calendar: %w", err)
	}
	return cal, nil
}

// Policy is the deadline policy: the [deadlines] tables over
// hotlinebot.DefaultDeadlinePolicy.
func (c *Config) Policy() hotlinebot.DeadlinePolicy { return c.policy }

// ReminderOffsets are reminders.before_sign and reminders.before_due, parsed.
func (c *Config) ReminderOffsets() (beforeSign, beforeDue []hotlinebot.Span) {
	return slices.Clone(c.beforeSign), slices.Clone(c.beforeDue)
}

// EscalationSteps are the [[escalation]] steps, parsed, in file order.
func (c *Config) EscalationSteps() []EscalationStep { return slices.Clone(c.steps) }
