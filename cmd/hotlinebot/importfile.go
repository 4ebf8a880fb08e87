package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/xuri/excelize/v2"
)

// importColumn is a column of an import file: its English name (the
// NewTicket field storage names in its errors) and its Chinese names.
type importColumn struct {
	key     string
	chinese []string
	time    bool
}

// importColumns are the columns of CONTRACT.md, "Import files", in the order
// problems are reported.
var importColumns = []importColumn{
	{key: "external_id", chinese: []string{"工单编号"}},
	{key: "title", chinese: []string{"标题"}},
	{key: "content", chinese: []string{"内容", "诉求内容"}},
	{key: "category", chinese: []string{"类别", "诉求类别"}},
	{key: "area", chinese: []string{"区域"}},
	{key: "address", chinese: []string{"地址"}},
	{key: "caller_name", chinese: []string{"来电人"}},
	{key: "caller_phone", chinese: []string{"来电号码"}},
	{key: "urgency", chinese: []string{"紧急程度"}},
	{key: "received_at", chinese: []string{"受理时间"}, time: true},
	{key: "department", chinese: []string{"承办单位"}},
	{key: "due_at", chinese: []string{"办理时限"}, time: true},
	{key: "completed_at", chinese: []string{"办结时间"}, time: true},
	{key: "outcome", chinese: []string{"办理结果"}},
	{key: "followup_result", chinese: []string{"回访结果"}},
	{key: "followup_at", chinese: []string{"回访时间"}, time: true},
}

// requiredColumns must be in the header; a file without them is refused
// before any row is read.
var requiredColumns = []string{"external_id", "title", "content"}

// sheet is an import file as rows of text, whatever its format.
type sheet struct {
	header     []string
	headerLine int
	rows       []sheetRow
	// serialTimes: the file is XLSX, whose time cells hold Excel serial
	// numbers, counted from 1904 when date1904.
	serialTimes, date1904 bool
}

// sheetRow is one data row and the line an editor or Excel shows it on.
type sheetRow struct {
	line  int
	cells []string
}

// importErrors is a refused import: every problem found, each naming its
// line and column.
type importErrors struct {
	Problems []string
}

func (e *importErrors) Summary() string {
	return fmt.Sprintf("导入失败，未导入任何工单：发现 %d 处错误", len(e.Problems))
}

func (e *importErrors) Error() string {
	return e.Summary() + "：" + strings.Join(e.Problems, "；")
}

func (e *importErrors) Unwrap() error { return hotlinebot.Errorf(hotlinebot.EINVALID, "%s", e.Error()) }

// problem is one bad cell (or row, when column is -1), sorted by line and column.
type problem struct {
	line   int
	column int // index into importColumns; -1 for the whole row or file
	text   string
}

// readSheet reads a CSV (UTF-8, with or without BOM) or the first sheet of an XLSX file.
func readSheet(path string) (*sheet, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "无法读取文件 %s：%v", path, unwrapPath(err))
		}
		return readCSV(data)
	case ".xlsx":
		return readXLSX(path)
	}
	return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "无法导入 %s：只接受 .csv 或 .xlsx 文件", path)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func readCSV(data []byte) (*sheet, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !utf8.Valid(data) {
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "文件不是 UTF-8 编码：请在 Excel 中另存为「CSV UTF-8（逗号分隔）」后再导入")
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	s := &sheet{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "第 %d 行：CSV 格式错误：%v", pe.Line, pe.Err)
			}
			return nil, err
		}
		line, _ := r.FieldPos(0)
		if s.header == nil {
			s.header, s.headerLine = rec, line
			continue
		}
		s.rows = append(s.rows, sheetRow{line: line, cells: rec})
	}
	return s, nil
}

func readXLSX(path string) (*sheet, error) {
	f, err := excelize.OpenFile(path)
	if err != nil {
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "无法读取 Excel 文件 %s：%v", path, unwrapPath(err))
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "Excel 文件 %s 中没有工作表", path)
	}
	// Raw values: a time cell gives its serial number, not a text in some
	// locale's format.
	rows, err := f.GetRows(sheets[0], excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "无法读取工作表「%s」：%v", sheets[0], err)
	}
	s := &sheet{serialTimes: true}
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		s.date1904 = *props.Date1904
	}
	for i, rec := range rows {
		if s.header == nil {
			if blank(rec) {
				continue
			}
			s.header, s.headerLine = rec, i+1
			continue
		}
		s.rows = append(s.rows, sheetRow{line: i + 1, cells: rec})
	}
	return s, nil
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// columnOf finds the import column a header names, English or Chinese.
func columnOf(header string) int {
	h := strings.ToLower(strings.TrimSpace(strings.ReplaceAll(header, "\u3000", " ")))
	for i, c := range importColumns {
		if h == c.key || slices.Contains(c.chinese, h) {
			return i
		}
	}
	return -1
}

// parsedFile is an import file turned into tickets: rows[i] came from lines[i].
type parsedFile struct {
	rows    []storage.NewTicket
	lines   []int
	headers map[string]string // column key → the header as the file writes it
	bad     []problem
}

// parseSheet turns rows of text into tickets, collecting every problem
// instead of stopping at the first.
func parseSheet(s *sheet, loc *time.Location) (*parsedFile, error) {
	if s.header == nil {
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "文件是空的：第 1 行应为表头（工单编号、标题、内容……）")
	}
	p := &parsedFile{headers: map[string]string{}}
	cols := make([]int, len(s.header)) // file column → importColumns index, -1 to ignore
	var unknown []string
	for i, h := range s.header {
		cols[i] = -1
		if strings.TrimSpace(h) == "" {
			continue
		}
		c := columnOf(h)
		if c < 0 {
			unknown = append(unknown, "「"+strings.TrimSpace(h)+"」")
			continue
		}
		key := importColumns[c].key
		if prev, dup := p.headers[key]; dup {
			return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "第 %d 行：列「%s」与「%s」是同一列", s.headerLine, strings.TrimSpace(h), prev)
		}
		p.headers[key] = strings.TrimSpace(h)
		cols[i] = c
	}
	if len(unknown) > 0 {
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "第 %d 行：无法识别的列 %s（可用的列见 README「导入工单」）", s.headerLine, strings.Join(unknown, "、"))
	}
	var missing []string
	for _, key := range requiredColumns {
		if _, ok := p.headers[key]; !ok {
			missing = append(missing, fmt.Sprintf("%s（%s）", key, importColumns[columnIndex(key)].chinese[0]))
		}
	}
	if len(missing) > 0 {
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "第 %d 行：表头缺少必需的列 %s", s.headerLine, strings.Join(missing, "、"))
	}

	firstLine := map[string]int{} // external_id → line of its first row
	for _, r := range s.rows {
		if blank(r.cells) {
			continue
		}
		var in storage.NewTicket
		for i, cell := range r.cells {
			if i >= len(cols) || cols[i] < 0 {
				if strings.TrimSpace(cell) != "" {
					p.bad = append(p.bad, problem{r.line, -1, fmt.Sprintf("第 %d 列有内容，但表头没有这一列的列名", i+1)})
				}
				continue
			}
			c := importColumns[cols[i]]
			value := strings.TrimSpace(cell)
			if c.time {
				if value == "" {
					continue
				}
				t, ok := s.parseTime(value, loc)
				if !ok {
					p.bad = append(p.bad, problem{r.line, cols[i], fmt.Sprintf("无法识别的时间“%s”（可写作 2017-10-20 09:30、2017/10/20 9:30 或 RFC 3339）", value)})
					continue
				}
				*ticketTime(&in, c.key) = t
				continue
			}
			*ticketText(&in, c.key) = value
		}
		if in.ExternalID != "" {
			if first, dup := firstLine[in.ExternalID]; dup {
				p.bad = append(p.bad, problem{r.line, columnIndex("external_id"), fmt.Sprintf("工单编号“%s”与第 %d 行重复", in.ExternalID, first)})
			} else {
				firstLine[in.ExternalID] = r.line
			}
		}
		if !in.CompletedAt.IsZero() && in.ReceivedAt.IsZero() && !badCells(p.bad, r.line, columnIndex("received_at")) {
			p.bad = append(p.bad, problem{r.line, columnIndex("received_at"), "已办结的历史工单必须有受理时间"})
		}
		p.rows = append(p.rows, in)
		p.lines = append(p.lines, r.line)
	}
	if len(p.rows) == 0 && len(p.bad) == 0 {
		return nil, hotlinebot.Errorf(hotlinebot.EINVALID, "文件中除表头外没有工单")
	}
	return p, nil
}

func badCells(bad []problem, line, column int) bool {
	return slices.ContainsFunc(bad, func(b problem) bool { return b.line == line && b.column == column })
}

func columnIndex(key string) int {
	return slices.IndexFunc(importColumns, func(c importColumn) bool { return c.key == key })
}

func ticketText(in *storage.NewTicket, key string) *string {
	switch key {
	case "external_id":
		return &in.ExternalID
	case "title":
		return &in.Title
	case "content":
		return &in.Content
	case "category":
		return &in.Category
	case "area":
		return &in.Area
	case "address":
		return &in.Address
	case "caller_name":
		return &in.CallerName
	case "caller_phone":
		return &in.CallerPhone
	case "urgency":
		return (*string)(&in.Urgency)
	case "department":
		return &in.Department
	case "outcome":
		return &in.Outcome
	case "followup_result":
		return (*string)(&in.FollowUpResult)
	}
	panic("import: no text column " + key)
}

func ticketTime(in *storage.NewTicket, key string) *time.Time {
	switch key {
	case "received_at":
		return &in.ReceivedAt
	case "due_at":
		return &in.DueAt
	case "completed_at":
		return &in.CompletedAt
	case "followup_at":
		return &in.FollowUpAt
	}
	panic("import: no time column " + key)
}

// importTimeLayouts are the wall-clock forms, read in calendar.timezone;
// month, day and hour may lack their leading zero.
var importTimeLayouts = []string{
	"2006-1-2 15:04:05", "2006-1-2 15:04", "2006-1-2T15:04:05", "2006-1-2T15:04",
	"2006/1/2 15:04:05", "2006/1/2 15:04",
	"2006年1月2日 15:04:05", "2006年1月2日 15:04", "2006年1月2日15:04",
}

// parseTime reads a time cell: RFC 3339, a wall-clock form in loc, or (in
// an XLSX file) an Excel date-time serial number.
func (sh *sheet) parseTime(s string, loc *time.Location) (time.Time, bool) {
	s = strings.Join(strings.Fields(s), " ")
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	for _, layout := range importTimeLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	if sh.serialTimes {
		// 1 is 1900-01-01; 2958465 is 9999-12-31.
		if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 1 && f < 2958466 {
			if t, err := excelize.ExcelDateToTime(f, sh.date1904); err == nil {
				t = t.Round(time.Second)
				return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc), true
			}
		}
	}
	return time.Time{}, false
}

// problems turns a parse's problems and storage's row errors into the
// clerk's list, by line and column, each once.
func (p *parsedFile) problems(rowErrs []storage.RowError) *importErrors {
	all := slices.Clone(p.bad)
	badCells := map[[2]int]bool{}
	for _, b := range p.bad {
		badCells[[2]int{b.line, b.column}] = true
	}
	for _, e := range rowErrs {
		if e.Row < 0 || e.Row >= len(p.lines) {
			all = append(all, problem{0, -1, e.Message})
			continue
		}
		line, col := p.lines[e.Row], columnIndex(e.Field)
		if badCells[[2]int{line, col}] {
			continue // already said, with the line numbers (a duplicate id, a bad time)
		}
		if slices.ContainsFunc(p.bad, func(b problem) bool {
			return b.line == line && b.column >= 0 && strings.Contains(e.Message, importColumns[b.column].key)
		}) {
			continue // follows from a value that could not be read (a bad 办结时间)
		}
		all = append(all, problem{line, col, e.Message})
	}
	slices.SortStableFunc(all, func(a, b problem) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return a.column - b.column
	})
	out := &importErrors{}
	for _, b := range all {
		switch {
		case b.line == 0:
			out.Problems = append(out.Problems, b.text)
		case b.column < 0:
			out.Problems = append(out.Problems, fmt.Sprintf("第 %d 行：%s", b.line, b.text))
		default:
			out.Problems = append(out.Problems, fmt.Sprintf("第 %d 行，列「%s」：%s", b.line, p.columnName(b.column), b.text))
		}
	}
	return out
}

// columnName is the column as the file names it, or its Chinese name when
// the file lacks it.
func (p *parsedFile) columnName(i int) string {
	c := importColumns[i]
	if h, ok := p.headers[c.key]; ok {
		return h
	}
	return c.chinese[0]
}
