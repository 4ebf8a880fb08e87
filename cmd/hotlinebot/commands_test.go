package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hotlinebot/hotlinebot/bot/wechatsim"
)

func TestUsageAndHelp(t *testing.T) {
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, noEnv, strings.NewReader(""), &out, &errb)
		return out.String(), errb.String(), code
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"help", "ticket", "import"}, {"ticket", "import", "--help"}, {"report", "-h"}} {
		out, errs, code := run(args...)
		if code != 0 || !strings.Contains(out, "用法") || errs != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if out, _, _ := run("help"); !strings.Contains(out, "report") || !strings.Contains(out, "ticket") {
		t.Errorf("help lists no commands:\n%s", out)
	}
	for _, args := range [][]string{
		{},                                    // no command
		{"tickets"},                           // unknown command
		{"ticket"},                            // a group without its subcommand
		{"ticket", "frobnicate"},              // unknown subcommand
		{"ticket", "show"},                    // missing REF
		{"ticket", "show", "1", "2"},          // one too many
		{"dept", "add", "--code", "x"},        // missing --name
		{"dept", "list", "--bogus"},           // unknown flag
		{"ticket", "act", "1", "accept"},      // not an office action
		{"followup", "1", "--result", "good"}, // bad result
		{"report"},                            // no period
		{"report", "--quarter", "2017Q5"},
		{"report", "--quarter", "2017Q4", "--from", "2017-10-01"},
		{"report", "--quarter", "2017Q4", "--format", "xlsx"}, // xlsx needs --out
		{"report", "--quarter", "2017Q4", "--format", "text", "-o", "json"},
		{"dept", "list", "-o", "yaml"},
		{"user", "disable", "abc"},
		{"help", "nosuch"},
	} {
		out, errs, code := run(args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, code, exitUsage, errs)
		}
		if out != "" || !strings.HasPrefix(errs, "hotlinebot: ") || !strings.Contains(errs, "--help") || strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: stdout %q, stderr %q", args, out, errs)
		}
	}
	// Without database.url, a command that needs it says which key is missing.
	_, errs, code := run("--config", "/nonexistent/config.toml", "dept", "list")
	if code != exitError || !strings.Contains(errs, "/nonexistent/config.toml") {
		t.Errorf("missing --config file: exit %d, %q", code, errs)
	}
	t.Chdir(t.TempDir())
	_, errs, code = run("dept", "list")
	if code != exitError || !strings.Contains(errs, "database.url") || !strings.Contains(errs, "HOTLINEBOT_DATABASE_URL") || strings.Count(errs, "\n") != 1 {
		t.Errorf("no database.url: exit %d, %q", code, errs)
	}
}

func TestDatabaseUnreachable(t *testing.T) {
	var out, errb bytes.Buffer
	env := map[string]string{"HOTLINEBOT_DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"}
	t.Chdir(t.TempDir())
	code := run(context.Background(), []string{"dept", "list"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	if code != exitUnavailable || !strings.Contains(errb.String(), "无法连接数据库") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}

func TestDatabasePasswordNeverShown(t *testing.T) {
	for _, dbURL := range []string{
		"postgres://hotline:s3cretpw@127.0.0.1:1/none?sslmode=disable",
		"postgres://hotline:s3cretpw@127.0.0.1:bad/none", // does not parse
	} {
		var out, errb bytes.Buffer
		t.Chdir(t.TempDir())
		env := map[string]string{"HOTLINEBOT_DATABASE_URL": dbURL}
		code := run(context.Background(), []string{"dept", "list"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
		if code == exitOK || strings.Contains(errb.String(), "s3cretpw") {
			t.Errorf("%s: exit %d, stderr %q", dbURL, code, errb.String())
		}
	}
}

func TestInterrupted(t *testing.T) {
	c := newCLI(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"--config", c.config, "dept", "list"}, noEnv, strings.NewReader(""), &out, &errb)
	if code != exitInterrupted || !strings.Contains(errb.String(), "已中断") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}

func TestDepartmentsAndPeople(t *testing.T) {
	c := newCLI(t)
	c.ok("dept", "add", "--code", "longshan", "--name", "龙山管理处")
	c.ok("dept", "add", "--name", "南湖街道办事处", "--code", "nanhu")
	c.fails(exitConflict, "dept", "add", "--code", "longshan", "--name", "龙山")
	var depts []struct{ Code, Name string }
	c.json(&depts, "dept", "list")
	if len(depts) != 2 || depts[0].Code != "longshan" || depts[1].Name != "南湖街道办事处" {
		t.Errorf("dept list: %+v", depts)
	}
	if out := c.ok("dept", "list"); !strings.Contains(out, "龙山管理处") {
		t.Errorf("dept list text:\n%s", out)
	}

	var li struct {
		ID         int64
		Name, Role string
		Department string
		Phone      string
		Bound      bool
	}
	// Flags after the positional arguments or before, a department by name.
	c.json(&li, "user", "add", "--name", "李娜", "--role", "handler", "--dept", "龙山管理处", "--phone", "13800001111")
	if li.ID == 0 || li.Department != "longshan" || li.Role != "handler" || li.Bound {
		t.Errorf("user add: %+v", li)
	}
	c.ok("user", "add", "--name", "孙区长", "--role", "leader")
	c.fails(exitError, "user", "add", "--name", "王五", "--role", "handler", "--dept", "nowhere")
	if out := c.ok("user", "list"); !strings.Contains(out, "李娜") || !strings.Contains(out, "区领导") {
		t.Errorf("user list:\n%s", out)
	}

	var code struct {
		Person    int64  `json:"person"`
		Code      string `json:"code"`
		ExpiresAt string `json:"expires_at"`
		QRScene   string `json:"qr_scene"`
	}
	c.json(&code, "user", "bind-code", "1")
	if code.Code == "" || code.QRScene != "bind:"+code.Code || !strings.HasSuffix(code.ExpiresAt, "+08:00") {
		t.Errorf("bind-code: %+v", code)
	}
	if out := c.ok("user", "bind-code", "1"); !strings.Contains(out, "绑定 ") || !strings.Contains(out, "bind:") {
		t.Errorf("bind-code text:\n%s", out)
	}
	c.fails(exitNotFound, "user", "bind-code", "99")

	c.ok("user", "move", "1", "--dept", "nanhu")
	var moved []struct{ Name, Department string }
	c.json(&moved, "user", "list", "--dept", "nanhu")
	if len(moved) != 1 || moved[0].Name != "李娜" {
		t.Errorf("after move: %+v", moved)
	}
	c.json(&moved, "user", "list", "--dept", "南湖街道办事处")
	if len(moved) != 1 || moved[0].Name != "李娜" {
		t.Errorf("user list --dept by name: %+v", moved)
	}
	if errs := c.fails(exitNotFound, "user", "list", "--dept", "nowhere"); !strings.Contains(errs, "nowhere") {
		t.Errorf("user list --dept nowhere: %s", errs)
	}
	c.ok("user", "unbind", "1")
	c.ok("user", "disable", "1")
	if out := c.ok("user", "list"); !strings.Contains(out, "已停用") {
		t.Errorf("disabled person not shown as such:\n%s", out)
	}
	c.fails(exitConflict, "user", "bind-code", "1")
}

const rulesFile = `[[rule]]
name = "龙山片区"
department = "longshan"
area = ["龙山管理处"]

[[rule]]
name = "征收补偿"
department = "nanhu"
category = ["征收补偿"]
keywords = ["拆迁"]

[default]
department = ""
`

func TestRules(t *testing.T) {
	c := newCLI(t)
	c.ok("dept", "add", "--code", "longshan", "--name", "龙山管理处")
	c.ok("dept", "add", "--code", "nanhu", "--name", "南湖街道办事处")
	if out := c.ok("rules", "test", "--area", "龙山管理处"); !strings.Contains(out, "待热线办分派") {
		t.Errorf("before any rules: %s", out)
	}
	path := c.write("rules.toml", rulesFile)
	if out := c.ok("rules", "import", path); !strings.Contains(out, "第 1 版") || !strings.Contains(out, "2 条规则") {
		t.Errorf("rules import: %s", out)
	}
	var m struct {
		Rule       *string `json:"rule"`
		Department string  `json:"department"`
	}
	c.json(&m, "rules", "test", "--area", "龙山管理处", "--title", "占道经营", "--content", "门口有游商")
	if m.Rule == nil || *m.Rule != "龙山片区" || m.Department != "longshan" {
		t.Errorf("rules test: %+v", m)
	}
	c.json(&m, "rules", "test", "--category", "征收补偿", "--content", "拆迁款没到")
	if m.Rule == nil || m.Department != "nanhu" {
		t.Errorf("rules test: %+v", m)
	}
	m.Rule, m.Department = nil, ""
	c.json(&m, "rules", "test", "--category", "社会保障")
	if m.Rule != nil || m.Department != "" {
		t.Errorf("no rule should match: %+v", m)
	}
	// As POST /api/v1/rules/test answers it: a pending ticket's department is null.
	if out := c.ok("rules", "test", "--category", "社会保障", "-o", "json"); !strings.Contains(out, `"department": null`) {
		t.Errorf("rules test -o json with no department: %s", out)
	}
	if out := c.ok("rules", "test", "--area", "龙山管理处"); !strings.Contains(out, "龙山片区") || !strings.Contains(out, "龙山管理处") {
		t.Errorf("rules test text: %s", out)
	}

	// A bad file is refused whole and the rules in force stay.
	bad := c.write("bad.toml", strings.Replace(rulesFile, `department = "nanhu"`, `department = "nowhere"`, 1))
	if errs := c.fails(exitError, "rules", "import", bad); !strings.Contains(errs, "nowhere") {
		t.Errorf("bad rules: %s", errs)
	}
	if out := c.ok("rules", "export"); out != rulesFile {
		t.Errorf("rules export after a refused import:\n%s", out)
	}
	c.fails(exitError, "rules", "import", c.dir+"/missing.toml")
}

func TestTicketCommands(t *testing.T) {
	c := newCLI(t)
	c.ok("dept", "add", "--code", "longshan", "--name", "龙山管理处")
	c.ok("dept", "add", "--code", "nanhu", "--name", "南湖街道办事处")
	c.ok("rules", "import", c.write("rules.toml", rulesFile))
	csv := c.write("tickets.csv", "工单编号,标题,诉求内容,区域,类别,来电人,来电号码,受理时间,承办单位,办结时间,办理结果\n"+
		"YY-1,占道经营,门口有游商摆摊,龙山管理处,市容市貌,张先生,13812340000,2026-11-30 09:30,,,\n"+
		"YY-2,社保咨询,养老保险怎么交,,社会保障,李女士,13900001234,2026/11/30 10:05,,,\n"+
		"YY-3,路灯不亮,小区路灯坏了,,市容市貌,王先生,13700000000,2026-11-20 09:00,南湖街道办事处,2026-11-21 15:00,已修复\n")
	if out := c.ok("ticket", "import", csv, "--quiet"); !strings.Contains(out, "新建 3 件") || !strings.Contains(out, "历史工单 1 件") {
		t.Errorf("import: %s", out)
	}

	type ticket struct {
		ID          int64   `json:"id"`
		Ref         string  `json:"ref"`
		ExternalID  string  `json:"external_id"`
		Status      string  `json:"status"`
		Department  string  `json:"department"`
		CallerPhone string  `json:"caller_phone"`
		Rule        string  `json:"rule"`
		ReceivedAt  *string `json:"received_at"`
		CompletedAt *string `json:"completed_at"`
		Outcome     *string `json:"outcome"`
		Followup    *string `json:"followup_result"`
	}
	var list []ticket
	c.json(&list, "ticket", "list")
	if len(list) != 3 {
		t.Fatalf("ticket list: %+v", list)
	}
	routed, pending, history := list[0], list[1], list[2]
	if routed.Status != "dispatched" || routed.Department != "longshan" || routed.Rule != "龙山片区" ||
		routed.CallerPhone != "138****0000" || routed.ReceivedAt == nil || *routed.ReceivedAt != "2026-11-30T09:30:00+08:00" {
		t.Errorf("routed ticket: %+v", routed)
	}
	if pending.Status != "pending" || pending.Department != "" || pending.CompletedAt != nil || pending.Outcome != nil {
		t.Errorf("pending ticket: %+v", pending)
	}
	if history.Status != "completed" || history.Outcome == nil || *history.Outcome != "已修复" {
		t.Errorf("history ticket: %+v", history)
	}
	c.json(&list, "ticket", "list", "--status", "待分派")
	if len(list) != 1 || list[0].ExternalID != "YY-2" {
		t.Errorf("list --status 待分派: %+v", list)
	}
	c.json(&list, "ticket", "list", "--dept", "龙山管理处")
	if len(list) != 1 || list[0].ExternalID != "YY-1" {
		t.Errorf("list --dept longshan: %+v", list)
	}
	if out := c.ok("ticket", "list"); !strings.Contains(out, "占道经营") || !strings.Contains(out, "待分派") {
		t.Errorf("list text:\n%s", out)
	}

	// show by number, by #number and by external id; the phone stays masked.
	var one ticket
	c.json(&one, "ticket", "show", "YY-2")
	if one.ID != pending.ID {
		t.Errorf("show YY-2: %+v", one)
	}
	out := c.ok("ticket", "show", pending.Ref)
	if !strings.Contains(out, "社保咨询") || !strings.Contains(out, "待分派") || !strings.Contains(out, "139****1234") || strings.Contains(out, "13900001234") || !strings.Contains(out, "办理经过") {
		t.Errorf("show text:\n%s", out)
	}
	c.json(&one, "ticket", "show", "--reveal-phone", pending.Ref)
	if one.CallerPhone != "13900001234" {
		t.Errorf("--reveal-phone: %+v", one)
	}
	var events []struct {
		Action  string  `json:"action"`
		Channel string  `json:"channel"`
		Actor   *int64  `json:"actor"`
		From    *string `json:"from_status"`
		At      string  `json:"at"`
	}
	c.json(&events, "ticket", "events", pending.Ref)
	if len(events) < 2 || events[0].Action != "create" || events[0].Channel != "import" || events[len(events)-1].Action != "reveal" {
		t.Errorf("events: %+v", events)
	}
	// As the API records it: a reveal changes no status.
	if r := events[len(events)-1]; r.From != nil || r.Channel != "cli" {
		t.Errorf("reveal event: %+v, want from_status null and channel cli", r)
	}
	c.fails(exitNotFound, "ticket", "show", "#999")

	// The office dispatches the pending ticket (flags before the positional arguments too).
	c.json(&one, "ticket", "act", "--dept", "南湖街道办事处", pending.Ref, "dispatch")
	if one.Status != "dispatched" || one.Department != "nanhu" {
		t.Errorf("dispatch: %+v", one)
	}
	c.fails(exitConflict, "ticket", "act", pending.Ref, "approve_return")
	c.fails(exitError, "ticket", "act", pending.Ref, "reassign", "--dept", "nowhere")
	if out := c.ok("ticket", "act", pending.Ref, "reassign", "--dept", "longshan", "--note", "属龙山片区"); !strings.Contains(out, "改派") || !strings.Contains(out, "longshan") {
		t.Errorf("reassign: %s", out)
	}

	// A follow-up closes the completed ticket.
	c.json(&one, "followup", history.Ref, "--result", "基本满意", "--note", "已回访")
	if one.Status != "closed" || one.Followup == nil || *one.Followup != "basic" {
		t.Errorf("followup: %+v", one)
	}
	c.fails(exitConflict, "followup", routed.Ref, "--result", "satisfied")
}

// With the 公众号 configured, user bind-code gives the bind QR code too, as
// POST /api/v1/users/{id}/bind-code does; without it, the code alone.
func TestBindCodeQR(t *testing.T) {
	c := newCLI(t)
	c.ok("dept", "add", "--code", "longshan", "--name", "龙山管理处")
	c.ok("user", "add", "--name", "李娜", "--role", "handler", "--dept", "longshan")
	var bc struct {
		Code    string  `json:"code"`
		QRScene string  `json:"qr_scene"`
		QRURL   *string `json:"qr_url"`
	}
	c.json(&bc, "user", "bind-code", "1")
	if bc.QRURL == nil || *bc.QRURL != "" {
		t.Fatalf("without WeChat: qr_url %v, want \"\"", bc.QRURL)
	}

	wx := wechatsim.New(wechatsim.Options{AppID: "wxcli0000000000", AppSecret: "cli-secret", Token: "cli-token"})
	srv := httptest.NewServer(wx)
	defer srv.Close()
	c.env["HOTLINEBOT_WECHAT_APP_ID"] = "wxcli0000000000"
	c.env["HOTLINEBOT_WECHAT_APP_SECRET"] = "cli-secret"
	c.env["HOTLINEBOT_WECHAT_TOKEN"] = "cli-token"
	c.env["HOTLINEBOT_WECHAT_API_BASE_URL"] = srv.URL
	c.json(&bc, "user", "bind-code", "1")
	qrs := wx.QRCodes()
	if len(qrs) != 1 || qrs[0].SceneStr != "bind:"+bc.Code || bc.QRScene != qrs[0].SceneStr {
		t.Fatalf("QR codes asked for: %+v (code %s)", qrs, bc.Code)
	}
	if bc.QRURL == nil || *bc.QRURL == "" || !strings.Contains(*bc.QRURL, url.QueryEscape(qrs[0].Ticket)) {
		t.Errorf("qr_url = %v, want the image of ticket %s", bc.QRURL, qrs[0].Ticket)
	}
	if out := c.ok("user", "bind-code", "1"); !strings.Contains(out, "扫描绑定二维码") || !strings.Contains(out, "showqrcode") {
		t.Errorf("bind-code text:\n%s", out)
	}
}
