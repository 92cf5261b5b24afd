# tern — see README.md.
GO      ?= go
BIN     := bin/tern
PREFIX  ?= /usr
SBINDIR ?= $(PREFIX)/sbin
CONFDIR ?= /etc/tern
RUNDIR  ?= $(CURDIR)/run

# The peers the tests start (dovecot, smtp-sink, postfix, mariadbd) live in
# the sbin directories, which an ordinary user's PATH often lacks.
export PATH := $(PATH):/usr/local/sbin:/usr/sbin:/sbin

.PHONY: all build test unit integration fuzz-smoke lint bench run stop install install-postfix-links clean

all: build

# bin/sendmail is its own small, static binary (cmd/sendmail): programs
# start it once per message, and it starts three times faster than tern.
build:
	$(GO) build -o $(BIN) ./cmd/tern
	rm -f bin/sendmail
	CGO_ENABLED=0 $(GO) build -o bin/sendmail ./cmd/sendmail
	ln -sf sendmail bin/mailq
	ln -sf tern bin/newaliases

# Every test: unit tests, fuzz seed corpora, and the integration tests that
# start the real suite. As root it first creates the test users it needs.
test: build
	@if [ "$$(id -u)" = 0 ]; then sh tests/setup-users.sh; fi
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

unit:
	$(GO) test -count=1 -short ./pkg/... ./qmgr/... ./local/... ./master/...

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest ./...
	@for f in man/*.[1-8]; do mandoc -T lint -W warning $$f || exit 1; done

bench: build
	sh tests/bench/run.sh

# A working MTA in ./run on 127.0.0.1, unprivileged ports, generated config.
run: build
	sh tests/run-local.sh $(RUNDIR)

stop:
	./$(BIN) stop -c $(RUNDIR)/etc

install: build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(CONFDIR) $(DESTDIR)/usr/share/man/man1 $(DESTDIR)/usr/share/man/man5 $(DESTDIR)/usr/share/man/man8
	install -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/tern
	install -m 0755 bin/sendmail $(DESTDIR)$(SBINDIR)/sendmail
	ln -sf tern $(DESTDIR)$(SBINDIR)/newaliases
	ln -sf $(SBINDIR)/sendmail $(DESTDIR)$(PREFIX)/bin/mailq
	[ -f $(DESTDIR)$(CONFDIR)/main.cf ] || install -m 0644 conf/main.cf $(DESTDIR)$(CONFDIR)/main.cf
	[ -f $(DESTDIR)$(CONFDIR)/master.cf ] || install -m 0644 conf/master.cf $(DESTDIR)$(CONFDIR)/master.cf
	for f in man/*.1; do install -m 0644 $$f $(DESTDIR)/usr/share/man/man1/; done
	for f in man/*.5; do install -m 0644 $$f $(DESTDIR)/usr/share/man/man5/; done
	for f in man/*.8; do install -m 0644 $$f $(DESTDIR)/usr/share/man/man8/; done
	install -D -m 0644 conf/tern.service $(DESTDIR)/lib/systemd/system/tern.service
	id postfix >/dev/null 2>&1 || [ -n "$(DESTDIR)" ] || useradd --system --no-create-home --home-dir /var/spool/tern --shell /usr/sbin/nologin postfix

# Optional: postfix, postconf, postqueue, postmap, postalias, postsuper
# and postcat as links to tern, for scripts that call them. Not part of
# install, as they would replace Postfix's own.
install-postfix-links:
	ln -sf tern $(DESTDIR)$(SBINDIR)/postfix
	ln -sf tern $(DESTDIR)$(SBINDIR)/postconf
	ln -sf tern $(DESTDIR)$(SBINDIR)/postqueue
	ln -sf tern $(DESTDIR)$(SBINDIR)/postmap
	ln -sf tern $(DESTDIR)$(SBINDIR)/postalias
	ln -sf tern $(DESTDIR)$(SBINDIR)/postsuper
	ln -sf tern $(DESTDIR)$(SBINDIR)/postcat

clean:
	rm -rf bin
