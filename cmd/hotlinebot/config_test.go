package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotlinebot/hotlinebot"
)

func noEnv(string) string { return "" }

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigRefusesBadValuesNamingTheKey(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want string // the error must contain this
	}{
		{"unknown key", "[wechat]\napp_secrt = \"x\"", "unknown key wechat.app_secrt"},
		{"unknown section", "[servr]\nlisten = \":80\"", "unknown key servr"},
		{"unknown nested key", "[deadlines.normal]\nsing = \"1wd\"", "unknown key deadlines.normal.sing"},
		{"unknown template key", "[wechat.templates.assigned]\nid = \"T\"\nname = \"x\"", "unknown key wechat.templates.assigned.name"},
		{"bad duration", "[deadlines.normal]\nhandle = \"2x\"", "deadlines.normal.handle"},
		{"bad category duration", "[deadlines.categories.\"征收补偿\"]\nhandle = \"15 days\"", `deadlines.categories."征收补偿".handle`},
		{"zero deadline", "[deadlines.urgent]\nsign = \"0s\"", "deadlines.urgent.sign"},
		{"bad tick", "[scheduler]\ntick = \"1wd\"", "scheduler.tick"},
		{"bad cron", "[scheduler]\ndigest_cron = \"30 8 * *\"", "scheduler.digest_cron"},
		{"bad timezone", "[calendar]\ntimezone = \"Asia/Beijing\"", "calendar.timezone"},
		{"workday_end not HH:MM", "[calendar]\nworkday_end = \"6pm\"", "calendar.workday_end"},
		{"workday_end out of range", "[calendar]\nworkday_end = \"24:30\"", "calendar.workday_end"},
		{"bad override date", "[calendar]\noverrides = [{ date = \"2028-13-01\", work = false }]", "calendar.overrides[0].date"},
		{"repeated override date", "[calendar]\noverrides = [{ date = \"2028-01-01\" }, { date = \"2028-01-01\", work = true }]", "calendar.overrides[1].date"},
		{"unknown template kind", "[wechat.templates.remind]\nid = \"T\"", "wechat.templates.remind"},
		{"template without id", "[wechat.templates.digest]\nfields = { thing1 = \"{{.Date}}\" }", "wechat.templates.digest.id"},
		{"template field bad syntax", "[wechat.templates.assigned]\nid = \"T\"\nfields = { thing2 = \"{{.Title\" }", "wechat.templates.assigned.fields.thing2"},
		{"template field unknown value", "[wechat.templates.assigned]\nid = \"T\"\nfields = { thing2 = \"{{.Titel}}\" }", "wechat.templates.assigned.fields.thing2"},
		{"unknown escalation audience", "[[escalation]]\nafter = \"0s\"\nnotify = [\"mayor\"]", "escalation[0].notify[0]"},
		{"escalation without audience", "[[escalation]]\nafter = \"1wd\"", "escalation[0].notify"},
		{"bad escalation after", "[[escalation]]\nafter = \"soon\"\nnotify = [\"office\"]", "escalation[0].after"},
		{"bad reminder", "[reminders]\nbefore_due = [\"1wd\", \"2 hours\"]", "reminders.before_due[1]"},
		{"zero reminder", "[reminders]\nbefore_sign = [\"0s\"]", "reminders.before_sign[0]"},
		{"bad listen address", "[server]\nlisten = \"8080\"", "server.listen"},
		{"bad public url", "[server]\npublic_url = \"hotline.example.gov.cn\"", "server.public_url"},
		{"short aes key", "[wechat]\nencoding_aes_key = \"abc\"", "wechat.encoding_aes_key"},
		{"wrong type", "[scheduler]\ntick = 30", "scheduler.tick"},
		{"unclosed table names its own line", "[database]\nurl = \"x\"\n[admin\ntoken = \"t\"\n", "line 3:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.toml, noEnv)
			if err == nil {
				t.Fatalf("config accepted:\n%s", tt.toml)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "127.0.0.1:8080" || c.WeChat.APIBaseURL != "https://api.weixin.qq.com" ||
		c.CalendarConfig.Timezone != "Asia/Shanghai" || c.CalendarConfig.WorkdayEnd != "18:00" ||
		c.Scheduler.DigestCron != "30 8 * * *" {
		t.Errorf("defaults: %+v", c)
	}
	if c.Tick() != 30*time.Second {
		t.Errorf("tick = %v", c.Tick())
	}
	if c.Location().String() != "Asia/Shanghai" {
		t.Errorf("location = %v", c.Location())
	}
	sign, due := c.ReminderOffsets()
	if len(sign) != 1 || sign[0] != (hotlinebot.Span{Duration: 2 * time.Hour}) ||
		len(due) != 2 || due[0] != (hotlinebot.Span{Workdays: 1}) {
		t.Errorf("reminders = %v, %v", sign, due)
	}
	steps := c.EscalationSteps()
	if len(steps) != 3 || steps[2].After != (hotlinebot.Span{Workdays: 3}) || steps[2].Notify[0] != hotlinebot.AudienceDistrictLeaders {
		t.Errorf("escalation = %+v", steps)
	}
	def := hotlinebot.DefaultDeadlinePolicy()
	if got := c.Policy().For(hotlinebot.UrgencyNormal, ""); got != def.For(hotlinebot.UrgencyNormal, "") {
		t.Errorf("normal policy = %+v, want the default %+v", got, def.For(hotlinebot.UrgencyNormal, ""))
	}
	if _, err := c.Calendar(); err != nil {
		t.Errorf("calendar: %v", err)
	}
	// The required values have no default.
	for _, key := range []string{"database.url", "admin.token"} {
		err := c.Require(key)
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), envName(key)) {
			t.Errorf("Require(%s) = %v", key, err)
		}
	}
}

func TestConfigFileOverDefaults(t *testing.T) {
	c, err := parseConfig(`
[deadlines.normal]
handle = "3wd"
[deadlines.categories."征收补偿"]
handle = "15wd"
[reminders]
before_sign = []
[[escalation]]
after = "2h"
notify = ["office"]
[calendar]
overrides = [{ date = "2028-01-01", work = false }, { date = "2028-01-02", work = true }]
`, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	def := hotlinebot.DefaultDeadlinePolicy().For(hotlinebot.UrgencyNormal, "")
	p := c.Policy()
	normal := p.For(hotlinebot.UrgencyNormal, "")
	if normal.Handle != (hotlinebot.Span{Workdays: 3}) || normal.Sign != def.Sign {
		t.Errorf("normal = %+v (default sign %v)", normal, def.Sign)
	}
	if got := p.For(hotlinebot.UrgencyNormal, "征收补偿"); got.Handle != (hotlinebot.Span{Workdays: 15}) || got.Sign != def.Sign {
		t.Errorf("征收补偿 = %+v", got)
	}
	if sign, due := c.ReminderOffsets(); len(sign) != 0 || len(due) != 2 {
		t.Errorf("reminders: an empty list must stay empty, the other default: %v %v", sign, due)
	}
	if steps := c.EscalationSteps(); len(steps) != 1 || steps[0].After != (hotlinebot.Span{Duration: 2 * time.Hour}) {
		t.Errorf("the file's steps replace the default ones: %+v", steps)
	}
	cal, err := c.Calendar()
	if err != nil {
		t.Fatal(err)
	}
	if cal.IsWorkday(time.Date(2028, 1, 3, 12, 0, 0, 0, c.Location())) != true ||
		cal.IsWorkday(time.Date(2028, 1, 2, 12, 0, 0, 0, c.Location())) != true {
		t.Errorf("override 2028-01-02 (a Sunday) as a working day is not applied")
	}
}

func TestConfigEnvironmentOverrides(t *testing.T) {
	env := envOf(map[string]string{
		"HOTLINEBOT_DATABASE_URL":      "postgres://env/db",
		"HOTLINEBOT_WECHAT_APP_SECRET": "s3cret",
		"HOTLINEBOT_ADMIN_TOKEN":       "tok",
		"HOTLINEBOT_SERVER_LISTEN":     ":9090",
		"HOTLINEBOT_SCHEDULER_TICK":    "5s",
		"HOTLINEBOT_CALENDAR_TIMEZONE": "Asia/Urumqi",
	})
	c, err := parseConfig("[database]\nurl = \"postgres://file/db\"\n[server]\nlisten = \":8081\"", env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.URL != "postgres://env/db" || c.WeChat.AppSecret != "s3cret" || c.Admin.Token != "tok" ||
		c.Server.Listen != ":9090" || c.Tick() != 5*time.Second || c.Location().String() != "Asia/Urumqi" {
		t.Errorf("environment not applied: %+v", c)
	}
	if err := c.Require("database.url", "admin.token"); err != nil {
		t.Error(err)
	}
	// A bad value from the environment is refused like one from the file.
	_, err = parseConfig("", envOf(map[string]string{"HOTLINEBOT_SCHEDULER_TICK": "often"}))
	if err == nil || !strings.Contains(err.Error(), "scheduler.tick") {
		t.Errorf("bad HOTLINEBOT_SCHEDULER_TICK: %v", err)
	}
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)

	// No ./config.toml: fine when the environment has what is needed.
	c, err := loadConfig("", envOf(map[string]string{"HOTLINEBOT_DATABASE_URL": "postgres://x"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "" || c.Require("database.url") != nil {
		t.Errorf("config without a file: %+v", c)
	}

	// A file the user names must exist.
	if _, err := loadConfig("missing.toml", noEnv); err == nil {
		t.Error("a missing --config file was accepted")
	}
	if _, err := loadConfig("", envOf(map[string]string{"HOTLINEBOT_CONFIG": "missing.toml"})); err == nil {
		t.Error("a missing HOTLINEBOT_CONFIG file was accepted")
	}

	path := filepath.Join(dir, "hotline.toml")
	if err := os.WriteFile(path, []byte("[admin]\ntoken = \"file-token\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = loadConfig("", envOf(map[string]string{"HOTLINEBOT_CONFIG": path}))
	if err != nil || c.Admin.Token != "file-token" || c.File != path {
		t.Errorf("HOTLINEBOT_CONFIG: %+v, %v", c, err)
	}
	if err := os.WriteFile(path, []byte("[admin]\ntokn = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = loadConfig(path, noEnv)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "unknown key admin.tokn") {
		t.Errorf("error should name the file and the key: %v", err)
	}
}

func TestConfigExampleLoads(t *testing.T) {
	c, err := loadConfig("../../config.example.toml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range hotlinebot.NotificationKinds {
		if _, ok := c.WeChat.Templates[string(k)]; !ok {
			t.Errorf("config.example.toml has no [wechat.templates.%s]", k)
		}
	}
}
