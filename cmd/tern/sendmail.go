package main

import (
	"io"

	"github.com/tern-mta/tern/pkg/postmap"
	"github.com/tern-mta/tern/pkg/sendmail"
)

// sendmailMain runs sendmail, mailq or newaliases inside the tern binary
// (argv[0] or "tern sendmail"). Installations use cmd/sendmail, the small
// binary that starts faster; this path stays for links made to tern.
func sendmailMain(prog string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return sendmail.Command(prog, args, stdin, stdout, stderr, func(args []string) int {
		return postmap.NewaliasesMain(args, stdout, stderr)
	})
}
