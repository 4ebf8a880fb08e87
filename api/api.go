// Package api is hotlinebot's admin and intake HTTP API: JSON over HTTP with a
// bearer token, thin handlers over storage. It also serves /healthz, /readyz
// and /metrics.
//
// New returns a handler for exactly these paths; cmd mounts it next to the
// bot's /wechat, /t/ and /d/ with Register:
//
//	mux := http.NewServeMux()
//	api.Register(mux, api.New(api.Options{...}))
//	bot.Register(mux, ...)
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hotlinebot/hotlinebot"
	"github.com/hotlinebot/hotlinebot/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxBodyBytes is the largest request body the API reads (CONTRACT.md: 1 MiB).
const MaxBodyBytes = 1 << 20

// Paths are the path prefixes the API's handler serves; Register mounts each.
var Paths = []string{"/api/", "/healthz", "/readyz", "/metrics"}

// Options are the API's dependencies.
type Options struct {
	Store *storage.Store
	// AdminToken is the bearer token every /api/ request must carry. An empty
	// token refuses every /api/ request.
	AdminToken string
	// Clock gives the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives a line per request and the detail of internal errors;
	// nil means slog.Default().
	Logger *slog.Logger
	// Location is the calendar's location: times are shown and dates of
	// queries read in it. nil means time.Local.
	Location *time.Location
	// Registry receives the HTTP metrics and is what /metrics serves; nil
	// means a new registry with the Go and process collectors.
	Registry *prometheus.Registry
	// Ready runs the readiness checks besides the database's (migrations
	// current, scheduler ticking); its error text is shown on /readyz, so it
	// must not hold secrets. May be nil.
	Ready func(ctx context.Context) error
	// QRURL turns a bind code's scene into the URL of a WeChat QR code valid
	// until expires (the bot makes them); nil leaves qr_url empty.
	QRURL func(ctx context.Context, scene string, expires time.Time) (string, error)
}

// Server is the API's http.Handler.
type Server struct {
	store   *storage.Store
	token   string
	clock   func() time.Time
	log     *slog.Logger
	loc     *time.Location
	ready   func(context.Context) error
	qrURL   func(context.Context, string, time.Time) (string, error)
	mux     *http.ServeMux
	metrics *metrics
	promh   http.Handler
}

// office is who the API acts as: the 热线办, through the API.
var office = hotlinebot.Actor{Role: hotlinebot.RoleOffice, Channel: hotlinebot.ChannelAPI}

// New returns the API's handler. It serves only Paths; mount it with Register.
// It panics without a Store, as that is a wiring mistake.
func New(opts Options) *Server {
	if opts.Store == nil {
		panic("api: Options.Store is nil")
	}
	s := &Server{
		store: opts.Store,
		token: opts.AdminToken,
		clock: opts.Clock,
		log:   opts.Logger,
		loc:   opts.Location,
		ready: opts.Ready,
		qrURL: opts.QRURL,
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.loc == nil {
		s.loc = time.Local
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s.metrics = newMetrics(reg)
	s.promh = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

// Register mounts h (from New) on mux under Paths.
func Register(mux *http.ServeMux, h http.Handler) {
	for _, p := range Paths {
		mux.Handle(p, h)
	}
}

// routes is the API's whole surface (CONTRACT.md, "HTTP").
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	s.mux.Handle("GET /metrics", s.promh)

	api := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		s.mux.Handle(pattern, s.authorized(s.apiHandler(h)))
	}
	api("POST /api/v1/departments", s.handleCreateDepartment)
	api("GET /api/v1/departments", s.handleListDepartments)

	api("POST /api/v1/users", s.handleCreateUser)
	api("GET /api/v1/users", s.handleListUsers)
	api("POST /api/v1/users/{id}/bind-code", s.handleBindCode)

	api("PUT /api/v1/rules", s.handlePutRules)
	api("GET /api/v1/rules", s.handleGetRules)
	api("POST /api/v1/rules/test", s.handleTestRules)

	api("POST /api/v1/tickets", s.handleCreateTicket)
	api("GET /api/v1/tickets", s.handleListTickets)
	api("GET /api/v1/tickets/{ref}", s.handleGetTicket)
	api("GET /api/v1/tickets/{ref}/events", s.handleTicketEvents)
	api("POST /api/v1/tickets/{ref}/actions", s.handleTicketAction)
	api("POST /api/v1/tickets/{ref}/followup", s.handleFollowUp)

	api("GET /api/v1/report", s.handleReport)

	// Anything else under /api/ is a JSON 404, after the token check so that
	// the API's surface is not probed without it.
	api("/api/", s.handleNoRoute)
}

// ServeHTTP logs and counts every request by its route pattern and status.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	_, pattern := s.mux.Handler(r)
	route := pattern
	if route == "" {
		route = "unmatched"
	}
	rw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("http: panic", "method", r.Method, "route", route,
				"panic", redact(fmt.Sprint(v)), "stack", redact(string(debug.Stack())))
			if !rw.wroteHeader {
				writeError(rw, http.StatusInternalServerError, codeInternal, hotlinebot.ErrorMessage(errInternalPanic))
			}
		}
		d := time.Since(start)
		s.metrics.observe(route, rw.status(), d)
		s.log.Info("http request", "method", r.Method, "route", route, "path", r.URL.Path,
			"status", rw.status(), "duration", d, "bytes", rw.bytes)
	}()
	if pattern == "" {
		// The mux would answer 404 or 405 in plain text; answer in JSON.
		s.mux.ServeHTTP(&muxErrorWriter{statusWriter: rw}, r)
		return
	}
	s.mux.ServeHTTP(rw, r)
}

// statusWriter remembers the status and the size of the response.
type statusWriter struct {
	http.ResponseWriter
	code        int
	bytes       int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) status() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.code
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// muxErrorWriter turns the mux's own plain-text 404/405 into the API's JSON.
type muxErrorWriter struct {
	*statusWriter
	done bool
}

func (w *muxErrorWriter) WriteHeader(code int) {
	if w.done {
		return
	}
	w.done = true
	switch code {
	case http.StatusMethodNotAllowed:
		writeError(w.statusWriter, code, codeInvalid, "该接口不支持此请求方法")
	case http.StatusNotFound:
		writeError(w.statusWriter, code, codeNotFound, "没有这个接口")
	default:
		w.statusWriter.WriteHeader(code)
	}
}

func (w *muxErrorWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return len(b), nil
}

// metrics are the HTTP request counters and latencies.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotlinebot_http_requests_total",
			Help: "HTTP requests to the API, health and metrics endpoints, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hotlinebot_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	return m
}

// register adds c to reg, or returns the collector already registered under
// the same name (two servers on one registry share their metrics).
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// handleNoRoute answers a path under /api/ that no route serves: 405 with
// Allow when the path exists for other methods, else 404.
func (s *Server) handleNoRoute(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, p := s.mux.Handler(probe); p != "" && p != "/api/" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return errNotFoundRoute
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, codeInvalid, "该接口不支持 "+r.Method+" 请求，可用："+strings.Join(allow, ", "))
	return nil
}
