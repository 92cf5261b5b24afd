package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/command"
	"github.com/tern-mta/tern/pkg/mailbox"
)

// HelperSpawner runs delivery jobs as another user.
type HelperSpawner interface {
	// Run runs one delivery job as uid/gid in a child process; job is
	// serialisable.
	Run(ctx context.Context, job Job, uid, gid int, body agent.Body) (agent.Result, error)
}

// maxJobLine bounds the JSON job line a helper accepts.
const maxJobLine = 1 << 20

// HelperMain is the helper child's entry point: it reads one JSON Job line
// and then the message content from stdin, runs the job with RunJob and
// writes the JSON agent.Result as one line to stdout. It returns the
// process exit status: 0 when a result was written.
func HelperMain(stdin io.Reader, stdout io.Writer) int {
	br := bufio.NewReaderSize(stdin, 64<<10)
	line, err := readLine(br, maxJobLine)
	var job Job
	if err == nil {
		err = json.Unmarshal(line, &job)
	}
	var res agent.Result
	if err != nil {
		res = agent.Deferf("4.3.0", "delivery helper: bad job: %v", err)
	} else {
		res = RunJob(context.Background(), job, br)
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintf(os.Stderr, "local helper: write result: %v\n", err)
		return 1
	}
	return 0
}

// readLine reads up to and without the next newline, at most limit bytes.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > limit {
			return nil, fmt.Errorf("job line longer than %d bytes", limit)
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(line, []byte("\n")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, fmt.Errorf("read job: %w", err)
		}
	}
}

// ExecSpawner is the HelperSpawner the daemon uses: it re-executes Path
// with Args (e.g. os.Executable() and "local-helper", whose main calls
// HelperMain) with the target uid, gid and the user's supplementary
// groups. Without root it can only run jobs as the current uid and gid.
type ExecSpawner struct {
	Path string
	Args []string
	Env  []string // the child's environment; nil = inherit
}

// Run implements HelperSpawner.
func (s ExecSpawner) Run(ctx context.Context, job Job, uid, gid int, body agent.Body) (agent.Result, error) {
	hdr, err := json.Marshal(job)
	if err != nil {
		return agent.Result{}, fmt.Errorf("encode job: %w", err)
	}
	cred, err := credential(uid, gid)
	if err != nil {
		return agent.Result{}, err
	}
	cmd := exec.CommandContext(ctx, s.Path, s.Args...)
	cmd.Env = s.Env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = io.MultiReader(bytes.NewReader(append(hdr, '\n')), agent.Reader(body))
	var stdout bytes.Buffer
	stderr := &command.Output{}
	cmd.Stdout, cmd.Stderr = mailbox.NewLimitWriter(&stdout, maxJobLine), stderr
	runErr := cmd.Run()
	var res agent.Result
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil || res.DSN == "" {
		return agent.Result{}, fmt.Errorf("helper %s as uid %d: no result (%v): %s", s.Path, uid, runErr, stderr.Text())
	}
	return res, nil
}

// credential is what the child runs as; nil when that is the current
// identity and the process is not root.
func credential(uid, gid int) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		if uid == os.Geteuid() && gid == os.Getegid() {
			return nil, nil
		}
		return nil, fmt.Errorf("not running as root: cannot deliver as uid %d gid %d", uid, gid)
	}
	if uid == 0 && gid == 0 {
		return nil, nil
	}
	groups := []uint32{uint32(gid)}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if n, err := strconv.ParseUint(id, 10, 32); err == nil && int(n) != gid {
					groups = append(groups, uint32(n))
				}
			}
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}
