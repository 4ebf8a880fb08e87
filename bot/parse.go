package bot

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Verb is what a chat message asks for (CONTRACT.md, "Chat commands").
type Verb string

// The verbs of the chat grammar. Their canonical spelling (Verb.Word) is what
// Command.String prints; Parse also accepts the synonyms in verbWords.
const (
	VerbHelp             Verb = "help"              // 帮助
	VerbBind             Verb = "bind"              // 绑定 <code>
	VerbAccept           Verb = "accept"            // 签收, 接单
	VerbProgress         Verb = "progress"          // 进展, 反馈
	VerbComplete         Verb = "complete"          // 办结, 完成
	VerbReturn           Verb = "return"            // 退回, 退单
	VerbExtend           Verb = "extend"            // 延期 N天 <reason>
	VerbApproveExtension Verb = "approve_extension" // 同意延期
	VerbRejectExtension  Verb = "reject_extension"  // 驳回延期 <reason>
	VerbApproveReturn    Verb = "approve_return"    // 同意退回 [dept]
	VerbRejectReturn     Verb = "reject_return"     // 驳回退回 <reason>
	VerbDispatch         Verb = "dispatch"          // 派, 派单, 改派 <dept>
	VerbTodo             Verb = "todo"              // 待办, 我的工单
	VerbShow             Verb = "show"              // 查, 详情
)

// verbWords maps every spelling of a verb to the verb. The first spelling
// listed for a verb in verbCanonical is the one printed.
var verbWords = map[string]Verb{
	"帮助": VerbHelp, "绑定": VerbBind,
	"签收": VerbAccept, "接单": VerbAccept,
	"进展": VerbProgress, "反馈": VerbProgress,
	"办结": VerbComplete, "完成": VerbComplete,
	"退回": VerbReturn, "退单": VerbReturn,
	"延期":   VerbExtend,
	"同意延期": VerbApproveExtension, "驳回延期": VerbRejectExtension,
	"同意退回": VerbApproveReturn, "驳回退回": VerbRejectReturn,
	"派": VerbDispatch, "派单": VerbDispatch, "改派": VerbDispatch,
	"待办": VerbTodo, "我的工单": VerbTodo,
	"查": VerbShow, "详情": VerbShow,
}

var verbCanonical = map[Verb]string{
	VerbHelp: "帮助", VerbBind: "绑定", VerbAccept: "签收", VerbProgress: "进展",
	VerbComplete: "办结", VerbReturn: "退回", VerbExtend: "延期",
	VerbApproveExtension: "同意延期", VerbRejectExtension: "驳回延期",
	VerbApproveReturn: "同意退回", VerbRejectReturn: "驳回退回",
	VerbDispatch: "派", VerbTodo: "待办", VerbShow: "查",
}

// verbsByLength lists the spellings longest first, so that 同意延期 is not
// read as something shorter.
var verbsByLength = func() []string {
	var ws []string
	for w := range verbWords {
		ws = append(ws, w)
	}
	// Insertion sort: a dozen entries, once.
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && less(ws[j], ws[j-1]); j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
	return ws
}()

func less(a, b string) bool {
	la, lb := len([]rune(a)), len([]rune(b))
	if la != lb {
		return la > lb
	}
	return a < b
}

// Word is the verb as Command.String prints it ("签收").
func (v Verb) Word() string { return verbCanonical[v] }

// Command is a parsed chat message. Parse never fails: a message it does not
// understand is VerbHelp, with Topic naming the verb the sender seems to have
// meant when a required part is missing ("办结 37" without an outcome).
type Command struct {
	Verb Verb
	// Ref names the ticket: "#37", "ext:123" or an external id such as
	// "YY20171020-0012"; "" when the sender left it out.
	Ref  string
	Days int    // VerbExtend: working days asked for (1..maxExtensionDays)
	Dept string // VerbDispatch, VerbApproveReturn: a department code or name
	// Text is the outcome, progress note or reason, as the sender wrote it
	// (trimmed, full-width punctuation kept).
	Text  string
	Code  string // VerbBind: the binding code
	Topic Verb   // VerbHelp: the verb to explain, "" for general help
}

// maxExtensionDays bounds what the parser takes as a number of working days;
// the domain applies the real limit (deadlines.*.max_extension).
const maxExtensionDays = 99

// String prints the command in its canonical form; Parse(c.String()) == c for
// every command Parse returns.
func (c Command) String() string {
	var b strings.Builder
	if c.Verb == "" {
		return VerbHelp.Word()
	}
	b.WriteString(c.Verb.Word())
	add := func(s string) {
		if s != "" {
			b.WriteByte(' ')
			b.WriteString(s)
		}
	}
	switch c.Verb {
	case VerbHelp:
		add(c.Topic.Word())
	case VerbBind:
		add(c.Code)
	case VerbTodo:
	case VerbExtend:
		add(c.Ref)
		add(strconv.Itoa(c.Days) + "天")
		add(c.Text)
	case VerbDispatch, VerbApproveReturn:
		add(c.Ref)
		add(c.Dept)
	default:
		add(c.Ref)
		add(c.Text)
	}
	return b.String()
}

// fold maps full-width forms to their ASCII counterparts (＃３７：→ #37:), the
// ideographic and other spaces to ' ', and leaves everything else alone.
func fold(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFF01 + '!'
	case r == 0xFE5F: // small number sign
		return '#'
	case unicode.IsSpace(r):
		return ' '
	}
	return r
}

// isSep reports whether the (folded) rune separates the parts of a command.
// '。' is one too, so that "签收 37。" and "办结 37。已清理" name #37.
func isSep(r rune) bool {
	switch r {
	case ' ', ':', ',', ';', '、', '。':
		return true
	}
	return false
}

// Normalize is the form Parse reads the structure of a message in: full-width
// characters folded to half-width, runs of spaces collapsed, ends trimmed.
// Normalize(Normalize(s)) == Normalize(s).
func Normalize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		r = fold(r)
		if r == ' ' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// scanner walks a message rune by rune: tokens are read folded, free text is
// taken from the original runes.
type scanner struct {
	orig   []rune
	folded []rune
	i      int
}

func newScanner(s string) *scanner {
	orig := []rune(s)
	folded := make([]rune, len(orig))
	for i, r := range orig {
		folded[i] = fold(r)
	}
	return &scanner{orig: orig, folded: folded}
}

func (s *scanner) skipSep() {
	for s.i < len(s.folded) && isSep(s.folded[s.i]) {
		s.i++
	}
}

// peek returns the next token (folded) after any separators and the index
// just past it, without consuming it. "ext:123" is one token.
func (s *scanner) peek() (string, int) { return s.peekFrom(s.i) }

// peekFrom is peek starting at index i.
func (s *scanner) peekFrom(i int) (string, int) {
	for i < len(s.folded) && isSep(s.folded[i]) {
		i++
	}
	start := i
	for i < len(s.folded) && !isSep(s.folded[i]) {
		i++
	}
	tok := string(s.folded[start:i])
	if strings.EqualFold(tok, "ext") && i+1 < len(s.folded) && s.folded[i] == ':' && !isSep(s.folded[i+1]) {
		i++
		for i < len(s.folded) && !isSep(s.folded[i]) {
			i++
		}
		tok = string(s.folded[start:i])
	}
	return tok, i
}

func (s *scanner) next() string {
	tok, end := s.peek()
	s.i = end
	return tok
}

// text returns the rest of the message as written, without leading or
// trailing separators and spaces (a final 。 stays: it is the writer's).
func (s *scanner) text() string {
	rest := s.orig[s.i:]
	trim := func(r rune) bool { return isSep(fold(r)) }
	return strings.TrimRightFunc(strings.TrimLeftFunc(string(rest), trim),
		func(r rune) bool { return r != '。' && trim(r) })
}

// normalizedRest returns the rest of the message in normalized form.
func (s *scanner) normalizedRest() string {
	return strings.TrimFunc(Normalize(string(s.orig[s.i:])), func(r rune) bool { return isSep(r) })
}

// Parse reads a chat message. It is pure and never panics; anything it does
// not understand is a request for help.
func Parse(text string) Command {
	s := newScanner(text)
	s.skipSep()
	verb, ok := s.verb()
	if !ok {
		return Command{Verb: VerbHelp}
	}
	help := Command{Verb: VerbHelp, Topic: verb}
	switch verb {
	case VerbHelp:
		topic, ok := verbWords[s.next()]
		if !ok || topic == VerbHelp {
			return Command{Verb: VerbHelp}
		}
		return Command{Verb: VerbHelp, Topic: topic}
	case VerbTodo:
		return Command{Verb: VerbTodo}
	case VerbBind:
		// A code may come in groups ("1234 5678", "1234-5678"): the ASCII
		// tokens after the verb are joined, dashes dropped.
		var code strings.Builder
		for {
			tok, end := s.peek()
			if tok == "" || !isCodeToken(tok) {
				break
			}
			code.WriteString(strings.ReplaceAll(tok, "-", ""))
			s.i = end
		}
		if code.Len() == 0 {
			return help
		}
		return Command{Verb: VerbBind, Code: code.String()}
	case VerbAccept, VerbShow:
		// Nothing may follow but the ref: "签收 37a" or "签收 三十七" is
		// asked about, not taken as the ref left out (which would act on
		// whichever single ticket there is).
		ref := s.ref()
		if ref == "" && s.next() != "" {
			return help
		}
		return Command{Verb: verb, Ref: ref}
	case VerbApproveExtension:
		ref := s.ref()
		return Command{Verb: verb, Ref: ref, Text: s.text()}
	case VerbProgress, VerbComplete, VerbReturn, VerbRejectExtension, VerbRejectReturn:
		c := Command{Verb: verb, Ref: s.ref()}
		if c.Text = s.text(); c.Text == "" {
			return help
		}
		return c
	case VerbApproveReturn, VerbDispatch:
		c := Command{Verb: verb, Ref: s.ref()}
		c.Dept = s.normalizedRest()
		if c.Dept == "" && verb == VerbDispatch {
			return help
		}
		return c
	case VerbExtend:
		c := Command{Verb: verb}
		// The ref is optional and may itself be a bare number: "延期 37 3天"
		// has a ref, "延期 3天" has none, "延期 3 原因" is read as ticket #3
		// with the days missing, which asks rather than guesses.
		tok, end := s.peek()
		if ref, ok := parseRef(tok); ok {
			unitNext := false
			if isDigits(tok) {
				u, _ := s.peekFrom(end)
				unitNext = isDayUnit(u)
			}
			if !unitNext {
				c.Ref = ref
				s.i = end
			}
		}
		days, ok := s.days()
		if !ok {
			return help
		}
		c.Days = days
		if c.Text = s.text(); c.Text == "" {
			return help
		}
		return c
	}
	return Command{Verb: VerbHelp}
}

// verb reads the verb at the start of the message. A verb must be followed by
// a separator, a ref or the end: "派出所…" is not 派.
func (s *scanner) verb() (Verb, bool) {
	rest := s.folded[s.i:]
	for _, w := range verbsByLength {
		wr := []rune(w)
		if len(rest) < len(wr) || string(rest[:len(wr)]) != w {
			continue
		}
		if len(rest) > len(wr) {
			r := rest[len(wr)]
			if !isSep(r) && r != '#' && !(r >= '0' && r <= '9') {
				continue
			}
		}
		s.i += len(wr)
		return verbWords[w], true
	}
	return "", false
}

// ref consumes the next token if it names a ticket.
func (s *scanner) ref() string {
	tok, end := s.peek()
	ref, ok := parseRef(tok)
	if !ok {
		return ""
	}
	s.i = end
	return ref
}

// days consumes a number of working days: "3天", "3 天", "3个工作日", "3",
// "三天", "两个工作日".
func (s *scanner) days() (int, bool) {
	tok, end := s.peek()
	num, unit := splitNumber(tok)
	n, ok := parseCount(num)
	if !ok || n < 1 || n > maxExtensionDays {
		return 0, false
	}
	switch unit {
	case "天", "日", "个工作日", "工作日", "wd":
	case "":
		// "3 天": the unit as its own token.
		if u, uend := s.peekFrom(end); isDayUnit(u) {
			end = uend
		}
	default:
		// "3天需协调": the reason typed right after the unit.
		u := dayUnitPrefix(unit)
		if u == "" {
			return 0, false
		}
		end = end - utf8.RuneCountInString(tok) + utf8.RuneCountInString(num) + utf8.RuneCountInString(u)
	}
	s.i = end
	return n, true
}

// dayUnitPrefix is the unit of working days that unit starts with, or "".
func dayUnitPrefix(unit string) string {
	for _, u := range []string{"个工作日", "工作日", "天", "日"} {
		if strings.HasPrefix(unit, u) {
			return u
		}
	}
	return ""
}

// isCodeToken reports whether tok is (part of) a bind code: ASCII letters,
// digits and dashes, with at least one letter or digit.
func isCodeToken(tok string) bool {
	alnum := false
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			alnum = true
		case c == '-':
		default:
			return false
		}
	}
	return alnum
}

func isDayUnit(u string) bool {
	switch u {
	case "天", "日", "个工作日", "工作日":
		return true
	}
	return false
}

// splitNumber splits "3个工作日" into "3" and "个工作日"; the number is ASCII
// digits or Chinese numerals.
func splitNumber(tok string) (num, unit string) {
	for i, r := range tok {
		if !(r >= '0' && r <= '9') && !strings.ContainsRune(chineseDigits, r) {
			return tok[:i], tok[i:]
		}
	}
	return tok, ""
}

const chineseDigits = "零一二两三四五六七八九十"

// parseCount reads "3", "03", "三", "两", "十", "十二", "二十".
func parseCount(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	if isDigits(s) {
		if len(s) > 4 {
			return 0, false
		}
		n, err := strconv.Atoi(s)
		return n, err == nil
	}
	val := map[rune]int{'零': 0, '一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9}
	rs := []rune(s)
	switch {
	case len(rs) == 1 && rs[0] == '十':
		return 10, true
	case len(rs) == 1:
		n, ok := val[rs[0]]
		return n, ok
	case len(rs) == 2 && rs[0] == '十':
		n, ok := val[rs[1]]
		return 10 + n, ok
	case len(rs) == 2 && rs[1] == '十':
		n, ok := val[rs[0]]
		return n * 10, ok
	case len(rs) == 3 && rs[1] == '十':
		a, ok1 := val[rs[0]]
		b, ok2 := val[rs[2]]
		return a*10 + b, ok1 && ok2
	}
	return 0, false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseRef reads a ticket ref: "37", "#37", "37号", "ext:123", or an external
// id (ASCII letters, digits and - _ . /, with a digit and a letter or a dash,
// as the city platform writes them: "YY20171020-0012").
func parseRef(tok string) (string, bool) {
	// "37!", "#37." (full-width forms folded): the punctuation ends the sentence.
	tok = strings.TrimRight(tok, ".!?~")
	if tok == "" {
		return "", false
	}
	hash := strings.HasPrefix(tok, "#")
	num := strings.TrimPrefix(tok, "#")
	num = strings.TrimSuffix(num, "号")
	if isDigits(num) {
		if len(num) > 18 {
			// Too long for a ticket number: an external id, if one can be that long.
			if !isExternalID(num, false) {
				return "", false
			}
			return "ext:" + num, true
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return "", false
		}
		return "#" + strconv.FormatInt(n, 10), true
	}
	if hash {
		return "", false
	}
	if len(tok) > 4 && strings.EqualFold(tok[:4], "ext:") {
		id := tok[4:]
		if !isExternalID(id, false) {
			return "", false
		}
		return "ext:" + id, true
	}
	if len(tok) >= 4 && isExternalID(tok, true) {
		return tok, true
	}
	return "", false
}

// isExternalID reports whether id is made of the characters external ids use;
// strict also asks for a digit and a letter or dash, so that words are not
// taken for ids.
func isExternalID(id string, strict bool) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	digit, other := false, false
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
			other = true
		case c == '_' || c == '.' || c == '/':
		default:
			return false
		}
	}
	return !strict || (digit && other)
}
