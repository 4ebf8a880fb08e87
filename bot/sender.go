package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hotlinebot/hotlinebot"
	"github.com/silenceper/wechat/v2/util"
)

// Template is one notification kind's template message as configured in
// [wechat.templates.<kind>]: the template id from the 公众号 console and, for
// each of its keys, a Go text/template expression over hotlinebot.TemplateData.
type Template struct {
	ID     string
	Fields map[string]string // template key ("thing2") → expression ("{{.Title}}")
}

// SenderOptions configure a Sender.
type SenderOptions struct {
	Templates map[hotlinebot.NotificationKind]Template
	Links     *Links // the H5 links put into pushes; nil: pushes carry none
	Clock     func() time.Time
	Logger    *slog.Logger
}

// Sender sends outbox rows as template messages. It is what cmd hands the
// dispatcher as its scheduler.Sender. Safe for concurrent use.
type Sender struct {
	wc        *WeChat
	templates map[hotlinebot.NotificationKind]*compiledTemplate
	links     *Links
	clock     func() time.Time
	log       *slog.Logger
}

type compiledTemplate struct {
	id     string
	fields []compiledField
}

type compiledField struct {
	key, typ string
	expr     *template.Template
}

// fieldTypes are the key types of WeChat's category templates (the key is the
// type plus a number: thing2), with the old keyword templates' keys.
var fieldTypes = map[string]bool{
	"thing": true, "character_string": true, "phrase": true, "time": true, "date": true,
	"number": true, "amount": true, "letter": true, "symbol": true, "phone_number": true,
	"car_number": true, "name": true,
	"keyword": true, "first": true, "remark": true,
}

// ParseTemplates checks the [wechat.templates] config: known kinds, an id for
// each, keys of a known type, expressions that parse and only use
// TemplateData's fields. The error names the key, e.g.
// `wechat.templates.assigned.fields.thing2: …`. cmd calls it at start.
func ParseTemplates(templates map[hotlinebot.NotificationKind]Template) error {
	_, err := parseTemplates(templates)
	return err
}

func parseTemplates(templates map[hotlinebot.NotificationKind]Template) (map[hotlinebot.NotificationKind]*compiledTemplate, error) {
	known := map[hotlinebot.NotificationKind]bool{}
	for _, k := range hotlinebot.NotificationKinds {
		known[k] = true
	}
	kinds := make([]string, 0, len(templates))
	for k := range templates {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	out := map[hotlinebot.NotificationKind]*compiledTemplate{}
	for _, ks := range kinds {
		kind := hotlinebot.NotificationKind(ks)
		t := templates[kind]
		at := "wechat.templates." + ks
		if !known[kind] {
			return nil, fmt.Errorf("%s: unknown notification kind (known: %s)", at, kindList())
		}
		if strings.TrimSpace(t.ID) == "" {
			return nil, fmt.Errorf("%s.id: the template id is required", at)
		}
		if len(t.Fields) == 0 {
			return nil, fmt.Errorf("%s.fields: at least one field is required", at)
		}
		ct := &compiledTemplate{id: strings.TrimSpace(t.ID)}
		keys := make([]string, 0, len(t.Fields))
		for k := range t.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, key := range keys {
			fat := at + ".fields." + key
			typ := strings.TrimRight(key, "0123456789")
			switch {
			case typ == "const" || typ == "enum":
				return nil, fmt.Errorf("%s: a %s key has a fixed value in the template and must not be sent", fat, typ)
			case !fieldTypes[typ]:
				return nil, fmt.Errorf("%s: unknown key type %q (the key is the type plus a number, such as thing2 or character_string1)", fat, typ)
			}
			expr, err := template.New(fat).Option("missingkey=error").Parse(t.Fields[key])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", fat, err)
			}
			// Fields that TemplateData lacks only fail when executed.
			if err := expr.Execute(&strings.Builder{}, sampleData); err != nil {
				return nil, fmt.Errorf("%s: %w", fat, err)
			}
			ct.fields = append(ct.fields, compiledField{key: key, typ: typ, expr: expr})
		}
		out[kind] = ct
	}
	return out, nil
}

var sampleData = hotlinebot.TemplateData{Ref: "#1", ExternalID: "X1", Title: "t", Category: "c", Department: "d",
	Status: "待签收", DueAt: "2026年01月02日 15:04", Date: "2026年01月02日", Count: "1", Note: "n"}

func kindList() string {
	s := make([]string, len(hotlinebot.NotificationKinds))
	for i, k := range hotlinebot.NotificationKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// NewSender returns a sender over wc; it fails on a bad template config (see
// ParseTemplates).
func NewSender(wc *WeChat, opts SenderOptions) (*Sender, error) {
	tpls, err := parseTemplates(opts.Templates)
	if err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = wc.log
	}
	return &Sender{wc: wc, templates: tpls, links: opts.Links, clock: opts.Clock, log: opts.Logger}, nil
}

// templateRequest is the body of /cgi-bin/message/template/send. The SDK's
// TemplateMessage always sends an empty "miniprogram"; this one does not.
type templateRequest struct {
	ToUser      string                     `json:"touser"`
	TemplateID  string                     `json:"template_id"`
	URL         string                     `json:"url,omitempty"`
	Data        map[string]templateDataVal `json:"data"`
	ClientMsgID string                     `json:"client_msg_id,omitempty"`
}

type templateDataVal struct {
	Value string `json:"value"`
}

type templateResponse struct {
	util.CommonError
	MsgID int64 `json:"msgid"`
}

// Send sends one push as a template message and returns WeChat's msgid. The
// outbox row id is the client_msg_id, so WeChat drops a repeat of the same
// row within 10 minutes. Failures are *hotlinebot.PushError:
//
//   - a kind without a template, a value that cannot be made valid, 43004
//     (not following), 40003 (bad openid), 43101 (refused), 40037/47003
//     (bad template), 48001 (the account lacks the permission): PushPermanent;
//   - 45009 (daily quota): PushQuota;
//   - -1, HTTP 5xx, a network error before the request was written, an
//     access token that cannot be had: PushTransient;
//   - a timeout or a reset after the request was written: PushCutOff
//     (WeChat may have delivered it).
//
// 40001/42001/40014 drop the cached token and retry once, with the same
// client_msg_id.
func (s *Sender) Send(ctx context.Context, p hotlinebot.Push) (int64, error) {
	t, ok := s.templates[p.Kind]
	if !ok {
		return 0, &hotlinebot.PushError{Failure: hotlinebot.PushPermanent,
			Message: fmt.Sprintf("推送类型 %s 没有配置模板（wechat.templates.%s）", p.Kind, p.Kind)}
	}
	if p.OpenID == "" {
		return 0, &hotlinebot.PushError{Failure: hotlinebot.PushPermanent, Message: "收件人没有绑定微信"}
	}
	req := templateRequest{ToUser: p.OpenID, TemplateID: t.id, Data: map[string]templateDataVal{},
		ClientMsgID: strconv.FormatInt(p.OutboxID, 10)}
	for _, f := range t.fields {
		var b strings.Builder
		if err := f.expr.Execute(&b, p.Data); err != nil {
			return 0, &hotlinebot.PushError{Failure: hotlinebot.PushPermanent, Message: err.Error()}
		}
		v, err := FitValue(f.key, b.String())
		if err != nil {
			return 0, &hotlinebot.PushError{Failure: hotlinebot.PushPermanent,
				Message: fmt.Sprintf("wechat.templates.%s.fields.%s：%v", p.Kind, f.key, err)}
		}
		req.Data[f.key] = templateDataVal{Value: v}
	}
	req.URL = s.link(p)

	var resp templateResponse
	ci, err := s.wc.postJSON(ctx, "template send", "/cgi-bin/message/template/send", req, &resp)
	if err == nil {
		return resp.MsgID, nil
	}
	pe := classify(ctx, ci, err)
	s.log.Warn("wechat: template push failed", "outbox", p.OutboxID, "kind", p.Kind, "person", p.PersonID,
		"failure", pe.Failure, "errcode", pe.ErrCode, "err", pe.Message)
	return 0, pe
}

func (s *Sender) link(p hotlinebot.Push) string {
	if s.links == nil {
		return ""
	}
	now := s.clock()
	switch {
	case p.Kind == hotlinebot.NotifyDigest && p.Date != "":
		return s.links.DigestURL(p.Date, p.PersonID, now)
	case p.TicketID != 0:
		return s.links.TicketURL(p.TicketID, p.PersonID, now)
	}
	return ""
}

// classify turns a failed call into a PushError.
func classify(ctx context.Context, ci *callInfo, err error) *hotlinebot.PushError {
	msg := Redact(err.Error())
	var ae *apiError
	if errors.As(err, &ae) {
		f := hotlinebot.PushTransient
		switch ae.ErrCode {
		case 43004, 40003, 43101, 40037, 40036, 47001, 47003, 48001: // 48001: the account may not send templates
			f = hotlinebot.PushPermanent
		case 45009:
			f = hotlinebot.PushQuota
		}
		return &hotlinebot.PushError{Failure: f, ErrCode: ae.ErrCode, Message: ae.ErrMsg}
	}
	switch {
	case ci == nil || ci.tokenFailed:
		return &hotlinebot.PushError{Failure: hotlinebot.PushTransient, Message: msg}
	case ci.status != 0 && ci.status != 200:
		return &hotlinebot.PushError{Failure: hotlinebot.PushTransient, Message: msg}
	case ci.garbled:
		// WeChat answered but not in its JSON: it may have sent the message.
		return &hotlinebot.PushError{Failure: hotlinebot.PushCutOff, Message: msg}
	case ci.wrote.Load():
		return &hotlinebot.PushError{Failure: hotlinebot.PushCutOff, Message: msg}
	}
	if ctx.Err() != nil {
		msg = "发送前已超时或取消：" + msg
	}
	return &hotlinebot.PushError{Failure: hotlinebot.PushTransient, Message: msg}
}

// FitValue makes v acceptable for a template key by the key's type (the key
// without its number), as WeChat's category templates require, so WeChat
// never answers 47003. Line breaks and runs of spaces become one space.
//
//   - thing (and the old keyword/first/remark): at most 20 characters, cut
//     to 19 plus "…" (dropping punctuation before it); empty becomes "无".
//   - character_string: at most 32 ASCII characters; anything else (Chinese)
//     is removed; empty becomes "-".
//   - phrase: at most 5 Chinese characters; others removed; empty becomes "无".
//   - time: "2006年01月02日 15:04" (also "15:04", a date, or a range with
//     "~"); "2006-01-02 15:04" and RFC 3339 are rewritten; anything else is
//     refused.
//   - date: "2006年01月02日" with an optional time; as for time.
//   - number: digits with an optional sign and decimals, at most 32.
//   - amount: up to 12 digits, 2 decimals, an optional currency sign and 元.
//   - letter: ASCII letters only, at most 32; symbol: at most 5 symbols;
//     phone_number: digits, +, - and spaces, at most 17; car_number: at most 8
//     characters; name: 10 Chinese characters or 20 letters.
//
// A value that cannot be made valid is an error.
func FitValue(key, v string) (string, error) {
	typ := strings.TrimRight(key, "0123456789")
	v = oneLine(v)
	switch typ {
	case "character_string", "number", "amount", "letter", "symbol", "phone_number", "time", "date":
		v = halfWidth(v)
	}
	switch typ {
	case "thing", "keyword", "first", "remark":
		if v == "" {
			return "无", nil
		}
		return cut(v, 20, "…"), nil
	case "character_string":
		v = strings.TrimSpace(keep(v, func(r rune) bool { return r >= 0x20 && r < 0x7f }))
		if v == "" {
			return "-", nil
		}
		return cut(v, 32, ""), nil
	case "phrase":
		v = keep(v, func(r rune) bool { return unicode.Is(unicode.Han, r) })
		if v == "" {
			return "无", nil
		}
		return cut(v, 5, ""), nil
	case "time":
		if t, ok := normalizeTime(v); ok {
			return t, nil
		}
		return "", fmt.Errorf("值 %q 不是时间，应为 2006年01月02日 15:04 这样", v)
	case "date":
		if t, ok := normalizeTime(v); ok && dateRe.MatchString(t) {
			return t, nil
		}
		return "", fmt.Errorf("值 %q 不是日期，应为 2006年01月02日 这样", v)
	case "number":
		v = strings.ReplaceAll(v, ",", "")
		if !numberRe.MatchString(v) || len(v) > 32 {
			return "", fmt.Errorf("值 %q 不是数字（至多 32 位）", v)
		}
		return v, nil
	case "amount":
		v = strings.ReplaceAll(strings.ReplaceAll(v, ",", ""), " ", "")
		if !amountRe.MatchString(v) {
			return "", fmt.Errorf("值 %q 不是金额", v)
		}
		return v, nil
	case "letter":
		v = keep(v, func(r rune) bool { return r < 0x80 && unicode.IsLetter(r) })
		if v == "" {
			return "", fmt.Errorf("值中没有字母")
		}
		return cut(v, 32, ""), nil
	case "symbol":
		v = keep(v, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) })
		if v == "" {
			return "", fmt.Errorf("值中没有符号")
		}
		return cut(v, 5, ""), nil
	case "phone_number":
		v = strings.TrimSpace(keep(v, func(r rune) bool { return r >= '0' && r <= '9' || r == '+' || r == '-' || r == ' ' }))
		if v == "" {
			return "", fmt.Errorf("值中没有电话号码")
		}
		return cut(v, 17, ""), nil
	case "car_number":
		v = strings.ReplaceAll(v, " ", "")
		if v == "" {
			return "", fmt.Errorf("车牌号为空")
		}
		return cut(v, 8, ""), nil
	case "name":
		if v == "" {
			return "", fmt.Errorf("姓名为空")
		}
		if isASCII(v) {
			return cut(v, 20, ""), nil
		}
		return cut(v, 10, ""), nil
	}
	return "", fmt.Errorf("未知的模板字段类型 %q", typ)
}

var (
	clockRe  = `\d{1,2}:\d{2}`
	dayRe    = `\d{4}年\d{1,2}月\d{1,2}日`
	oneTime  = `(` + dayRe + ` ` + clockRe + `|` + clockRe + `|` + dayRe + `)`
	timeRe   = regexp.MustCompile(`^` + oneTime + `( ?~ ?` + oneTime + `)?$`)
	dateRe   = regexp.MustCompile(`^` + dayRe + `( ` + clockRe + `)?( ?~ ?` + dayRe + `( ` + clockRe + `)?)?$`)
	numberRe = regexp.MustCompile(`^[-+]?\d+(\.\d+)?$`)
	amountRe = regexp.MustCompile(`^[¥$€£]?\d{1,12}(\.\d{1,2})?元?$`)
)

// normalizeTime accepts WeChat's time shapes and rewrites the ISO ones.
func normalizeTime(v string) (string, bool) {
	if timeRe.MatchString(v) {
		return v, true
	}
	for _, l := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006/01/02 15:04"} {
		if t, err := time.Parse(l, v); err == nil {
			return t.Format(hotlinebot.LayoutMinute), true
		}
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t.Format(hotlinebot.LayoutDate), true
	}
	return "", false
}

// oneLine joins the value's lines and runs of spaces (ideographic ones too)
// into single spaces.
func oneLine(s string) string { return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ") }

// halfWidth folds full-width ASCII forms (＃３７) to ASCII (#37).
func halfWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0xFF01 && r <= 0xFF5E {
			return r - 0xFEE0
		}
		return r
	}, s)
}

// cut shortens s to n characters, the last being tail when s was longer.
func cut(s string, n int, tail string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if tail == "" {
		return string(r[:n])
	}
	// "交叉口有人长期占道经营…", not "…占道经营，…".
	head := strings.TrimRightFunc(string(r[:n-utf8.RuneCountInString(tail)]), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r)
	})
	return head + tail
}

func keep(s string, f func(rune) bool) string {
	return strings.Map(func(r rune) rune {
		if f(r) {
			return r
		}
		return -1
	}, s)
}

func isASCII(s string) bool {
	for _, r := range s {
		if r >= 0x80 {
			return false
		}
	}
	return true
}

var kindTitles = map[hotlinebot.NotificationKind]string{
	hotlinebot.NotifyAssigned: "工单派发通知", hotlinebot.NotifyReminder: "工单到期提醒",
	hotlinebot.NotifyOverdue: "工单超期提醒", hotlinebot.NotifyEscalation: "工单督办通知",
	hotlinebot.NotifyExtension: "延期申请通知", hotlinebot.NotifyReturned: "退回申请通知",
	hotlinebot.NotifyReopened: "工单重办通知", hotlinebot.NotifyDigest: "每日工单汇总",
	hotlinebot.NotifyNotice: "系统通知",
}

// KindTitle is the title a kind's template would have in the console (the
// README's suggestions), for the sandbox's printed pushes.
func KindTitle(k hotlinebot.NotificationKind) string {
	if t := kindTitles[k]; t != "" {
		return t
	}
	return string(k)
}

var valueLabels = map[string]string{
	".Ref": "工单", ".ExternalID": "工单编号", ".Title": "标题", ".Category": "类别", ".Department": "承办单位",
	".Status": "状态", ".DueAt": "办理时限", ".Date": "日期", ".Count": "数量", ".Note": "说明",
}

// FieldLabels names each key of t after the value its expression shows
// ("{{.Title}}" → 标题; the key itself when it shows something else), so the
// sandbox prints `标题：…` rather than `thing2：…`.
func FieldLabels(t Template) map[string]string {
	out := make(map[string]string, len(t.Fields))
	for k, expr := range t.Fields {
		e := strings.TrimSpace(expr)
		if inner, ok := strings.CutPrefix(e, "{{"); ok {
			if inner, ok = strings.CutSuffix(inner, "}}"); ok {
				if l := valueLabels[strings.TrimSpace(inner)]; l != "" {
					out[k] = l
					continue
				}
			}
		}
		out[k] = k
	}
	return out
}
