package smtp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/rewrite"
)

// genericAddrs are the envelope addresses of a delivery after
// smtp_generic_maps, the recipients in the request's order.
type genericAddrs struct {
	sender string
	rcpts  []string
}

// genericEnvelope applies smtp_generic_maps to the sender and recipients
// of a delivery, as Postfix's smtp(8) does before MAIL FROM; the queue
// keeps the addresses as they were, so logs and bounces name those.
func genericEnvelope(g *rewrite.Settings, sender string, rcpts []string) (string, []string, error) {
	s, err := g.GenericAddress(sender)
	if err != nil {
		return "", nil, err
	}
	out := make([]string, len(rcpts))
	for i, r := range rcpts {
		if out[i], err = g.GenericAddress(r); err != nil {
			return "", nil, err
		}
	}
	return s, out, nil
}

// genericHeaderLimit bounds the header that smtp_generic_maps rewrites
// (Postfix's header_size_limit default): the rest of a longer one goes
// out as it is.
const genericHeaderLimit = 102400

// genericBody returns body with the addresses of its header rewritten by
// smtp_generic_maps. The header is read and rewritten at the first Read;
// a table that fails makes Read fail, and the delivery is deferred.
func genericBody(g *rewrite.Settings, body io.Reader) io.Reader {
	return &genericReader{g: g, src: bufio.NewReader(body)}
}

type genericReader struct {
	g   *rewrite.Settings
	src *bufio.Reader
	out io.Reader
}

func (r *genericReader) Read(p []byte) (int, error) {
	if r.out == nil {
		head, err := r.header()
		if err != nil {
			return 0, err
		}
		r.out = io.MultiReader(bytes.NewReader(head), r.src)
	}
	return r.out.Read(p)
}

// header reads the header section (LF line ends, as the queue keeps it)
// up to the empty line, or genericHeaderLimit bytes, and returns it
// rewritten, that empty line included.
func (r *genericReader) header() ([]byte, error) {
	var out, field bytes.Buffer
	flush := func() error {
		if field.Len() == 0 {
			return nil
		}
		line := field.Bytes()
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || bytes.ContainsAny(name, " \t") {
			out.Write(line)
			field.Reset()
			return nil
		}
		v := string(bytes.TrimSuffix(value, []byte("\n")))
		nv, changed, err := r.g.GenericHeaderLine(string(name), v)
		if err != nil {
			return fmt.Errorf("smtp_generic_maps: %w", err)
		}
		if changed {
			fmt.Fprintf(&out, "%s:%s\n", name, nv)
		} else {
			out.Write(line)
		}
		field.Reset()
		return nil
	}
	read := 0
	for read < genericHeaderLimit {
		line, err := r.src.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: not a header to rewrite.
			if ferr := flush(); ferr != nil {
				return nil, ferr
			}
			out.Write(line)
			break
		}
		read += len(line)
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && field.Len() > 0 {
			field.Write(line)
		} else {
			if ferr := flush(); ferr != nil {
				return nil, ferr
			}
			if len(line) == 0 || line[0] == '\n' {
				out.Write(line) // the empty line that ends the header, or the end
				break
			}
			field.Write(line)
		}
		if err != nil {
			break // the end of a message that is only a header
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// requestAddresses are the envelope addresses of req's recipients.
func requestAddresses(req *agent.Request) []string {
	out := make([]string, len(req.Recipients))
	for i, rc := range req.Recipients {
		out[i] = rc.Address
	}
	return out
}
