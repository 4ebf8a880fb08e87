package bot

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/hotlinebot/hotlinebot/storage/storagetest"
)

// svgText is a <text> of the digest's chart, as a phone draws it.
type svgText struct {
	X      float64 `xml:"x,attr"`
	DX     float64 `xml:"dx,attr"`
	Anchor string  `xml:"text-anchor,attr"`
	Size   float64 `xml:"font-size,attr"`
	Text   string  `xml:",chardata"`
}

// extent is where the text lies on the x axis: a Chinese character is one
// em wide, a digit or a space about half of one.
func (t svgText) extent() (left, right float64) {
	var w float64
	for _, r := range t.Text {
		if r < utf8.RuneSelf {
			w += 0.6 * t.Size
		} else {
			w += t.Size
		}
	}
	x := t.X + t.DX
	switch t.Anchor {
	case "end":
		return x - w, x
	case "middle":
		return x - w/2, x + w/2
	}
	return x, x + w
}

// The chart draws every department's name and figures inside the picture,
// however long the name: district departments are called 区人力资源和社会保障局.
func TestDigestChartKeepsLongNamesInside(t *testing.T) {
	dp := &digestPage{PagesOptions{Location: storagetest.Shanghai}}
	day := storagetest.At(2026, 12, 2, 0, 0)
	dg := storage.Digest{Day: day, AsOf: day.Add(9 * time.Hour), Departments: []storage.DepartmentDigest{
		{Code: "hrss", Name: "区人力资源和社会保障局", DigestFigures: storage.DigestFigures{Open: 128, Overdue: 37}},
		{Code: "scenic", Name: "景区保护管理中心", DigestFigures: storage.DigestFigures{Open: 3, Overdue: 1}},
		{Code: "nanhu", Name: "南湖街道办事处", DigestFigures: storage.DigestFigures{Open: 0}},
	}}
	var b bytes.Buffer
	if err := digestTemplate.Execute(&b, dp.view(dg, hotlinebot.Person{ID: 1, Role: hotlinebot.RoleLeader}, day)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	start, end := strings.Index(page, "<svg"), strings.Index(page, "</svg>")
	if start < 0 || end < start {
		t.Fatalf("no chart:\n%s", page)
	}
	var svg struct {
		ViewBox string    `xml:"viewBox,attr"`
		Texts   []svgText `xml:"g>text"`
	}
	if err := xml.Unmarshal([]byte(page[start:end+len("</svg>")]), &svg); err != nil {
		t.Fatal(err)
	}
	box := strings.Fields(svg.ViewBox)
	if len(box) != 4 {
		t.Fatalf("viewBox %q", svg.ViewBox)
	}
	width, _ := strconv.ParseFloat(box[2], 64)
	names := 0
	for _, tx := range svg.Texts {
		left, right := tx.extent()
		if left < 0 || right > width {
			t.Errorf("%q is drawn from x=%.0f to %.0f, outside the chart's 0..%.0f", tx.Text, left, right, width)
		}
		for _, l := range dg.Departments {
			if tx.Text == l.Name {
				names++
			}
		}
	}
	if names != len(dg.Departments) {
		t.Errorf("%d department names in the chart, want %d", names, len(dg.Departments))
	}
}

// The district's table gives each department the same figures as the top of
// the page, this month's satisfaction included.
func TestDigestTableShowsEachDepartmentsSatisfaction(t *testing.T) {
	dp := &digestPage{PagesOptions{Location: storagetest.Shanghai}}
	day := storagetest.At(2026, 12, 2, 0, 0)
	dg := storage.Digest{Day: day, AsOf: day.Add(9 * time.Hour),
		DigestFigures: storage.DigestFigures{Open: 5, FollowUps: 4, Satisfied: 3},
		Departments: []storage.DepartmentDigest{
			{Code: "longshan", Name: "龙山管理处", DigestFigures: storage.DigestFigures{Open: 4, FollowUps: 3, Satisfied: 3}},
			{Code: "nanhu", Name: "南湖街道办事处", DigestFigures: storage.DigestFigures{Open: 1, FollowUps: 1, Satisfied: 0}},
			{Code: "qiusuo", Name: "求索街道办事处"},
		}}
	var b bytes.Buffer
	if err := digestTemplate.Execute(&b, dp.view(dg, hotlinebot.Person{ID: 1, Role: hotlinebot.RoleOffice}, day)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.Contains(page, "<th>满意率</th>") {
		t.Errorf("the table has no 满意率 column:\n%s", page)
	}
	for code, want := range map[string]string{"longshan": "100.00%", "nanhu": "0.00%", "qiusuo": "—"} {
		i := strings.Index(page, `data-department="`+code+`"`)
		if i < 0 {
			t.Errorf("no line for %s", code)
			continue
		}
		row := page[i : i+strings.Index(page[i:], "</tr>")]
		if !strings.Contains(row, "<td>"+want+"</td>") {
			t.Errorf("%s's line %q lacks its satisfaction %s", code, row, want)
		}
	}
}
