package api

import (
	"net/http"
	"net/url"
	"strconv"
)

// The list endpoints' page sizes (CONTRACT.md, "HTTP").
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// page is a list request's paging: ids after After, at most Limit of them.
type page struct {
	Limit int
	After int64
}

// parsePage reads limit and after from the query.
func parsePage(q url.Values) (page, error) {
	p := page{Limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return p, invalidf("参数 limit 无效：应为 1 到 %d 之间的整数", maxLimit)
		}
		p.Limit = n
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return p, invalidf("参数 after 无效：应为上一页最后一条的 id")
		}
		p.After = n
	}
	return p, nil
}

// setNextLink tells the client where the next page starts when this one is
// full: a Link header (rel="next") with after set to the last id.
func setNextLink(w http.ResponseWriter, r *http.Request, p page, n int, lastID int64) {
	if n < p.Limit || n == 0 {
		return
	}
	q := r.URL.Query()
	q.Set("after", strconv.FormatInt(lastID, 10))
	q.Set("limit", strconv.Itoa(p.Limit))
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	w.Header().Set("Link", "<"+u.String()+`>; rel="next"`)
}

// pageOf cuts an id-ordered list held in memory to the page.
func pageOf[T any](items []T, id func(T) int64, p page) []T {
	out := make([]T, 0, min(len(items), p.Limit))
	for _, it := range items {
		if id(it) <= p.After {
			continue
		}
		if len(out) == p.Limit {
			break
		}
		out = append(out, it)
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
