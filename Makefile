# hotlinebot — the two commands a newcomer runs are `make run` and `make test`.

GO          ?= go
CONFIG      ?= config.local.toml
LOCAL_PG    ?= /var/tmp/hotlinebot-pg
LOCAL_PORT  ?= 55432
TESTFLAGS   ?=
FUZZTIME    ?= 5s

.PHONY: run test build lint fuzz bench clean-local

build:
	$(GO) build -o bin/hotlinebot ./cmd/hotlinebot

# Starts the service on local defaults: a local PostgreSQL cluster if
# database.url does not answer, a local config, migrations, then serve.
# Without WeChat credentials (wechat.app_secret in the config or
# HOTLINEBOT_WECHAT_APP_SECRET) it runs the sandbox: the simulated WeChat in
# the same process, every push printed on this console.
run: build
	@./.ci/local.sh "$(CONFIG)" "$(LOCAL_PG)" "$(LOCAL_PORT)"
	@if grep -Eq '^[[:space:]]*app_secret[[:space:]]*=[[:space:]]*"[^"]+"' "$(CONFIG)" || [ -n "$$HOTLINEBOT_WECHAT_APP_SECRET" ]; then \
		echo "./bin/hotlinebot --config $(CONFIG) serve"; exec ./bin/hotlinebot --config "$(CONFIG)" serve; \
	else \
		echo "./bin/hotlinebot --config $(CONFIG) serve --sandbox"; exec ./bin/hotlinebot --config "$(CONFIG)" serve --sandbox; \
	fi

# The whole default suite: vet, staticcheck, the tests against PostgreSQL
# (HOTLINEBOT_TEST_DATABASE_URL; .ci/run sets it) and a short fuzz run.
test:
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null 2>&1; then echo "staticcheck ./..."; staticcheck ./...; else echo "staticcheck not installed: skipped (CI installs it)"; fi
	$(GO) test -count=1 $(TESTFLAGS) ./...
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./bot

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...
	staticcheck ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean-local:
	./.ci/pg.sh stop "$(LOCAL_PG)"

# A longer fuzz run of the chat-command parser than `make test` does.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./bot
