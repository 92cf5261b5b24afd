package restrict

import (
	"fmt"
	"strings"
)

// Reply text of the sender login checks, as Postfix words them.
const (
	textNotOwned    = "not owned by user %s"
	textNotLoggedIn = "not logged in"
)

// senderLoginMismatch implements the reject_*sender_login_mismatch family
// against smtpd_sender_login_maps (postconf(5)):
//
//   - authenticated clients may use only sender addresses whose owners
//     include their login; reject_known_sender_login_mismatch lets them
//     use addresses that nobody owns;
//   - unauthenticated clients may not use addresses that somebody owns.
//
// reject_authenticated_ and reject_unauthenticated_sender_login_mismatch
// apply one half each; reject_sender_login_mismatch and
// reject_known_sender_login_mismatch apply both. A table that can't be
// searched defers (451 4.3.0).
func (e *eval) senderLoginMismatch(k kind) status {
	sender, login := e.f.Sender, e.f.SASLUser
	authHalf := k != kRejectUnauthSenderLoginMismatch
	unauthHalf := k != kRejectAuthSenderLoginMismatch
	if (login != "" && !authHalf) || (login == "" && !unauthHalf) {
		return dunno
	}
	owners, found, err := e.c.deps.SenderOwners(e.ctx, sender)
	if err != nil {
		return e.dictRetry(sender, err)
	}
	lc := listCtx{name: sender, class: classSender}
	if login == "" {
		if found {
			return e.reject(classReject(553, "5.7.1", lc, textNotLoggedIn))
		}
		return dunno
	}
	if !found && k == kRejectKnownSenderLoginMismatch {
		return dunno
	}
	for _, o := range owners {
		if strings.EqualFold(o, login) {
			return dunno
		}
	}
	return e.reject(classReject(553, "5.7.1", lc, fmt.Sprintf(textNotOwned, login)))
}
