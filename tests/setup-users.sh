#!/bin/sh
# Creates the system users the integration tests deliver to (run as root;
# idempotent). usera, userb, userc are the users of the reference
# local-domain setup; terntest is the ordinary user that runs a whole
# instance unprivileged.
set -eu
for u in usera userb userc terntest; do
	if ! id "$u" >/dev/null 2>&1; then
		useradd --create-home --shell /bin/sh "$u"
	fi
done
# mail_owner of a root-started instance.
if ! id postfix >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postfix
fi
