package queue

import (
	"sync"
	"time"
)

// idAlphabet is Postfix's base-52 alphabet for long queue ids: digits and
// letters without vowels, in ASCII order so that lexical order of
// fixed-width encodings equals numeric order.
const idAlphabet = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"

const (
	idBase     = int64(len(idAlphabet))
	secWidth   = 6 // 52^6 seconds reach past the year 2500
	usecWidth  = 4 // 52^4 > 1e6
	seqWidth   = 3 // 52^3 ids per microsecond before borrowing the next one
	idLen      = secWidth + usecWidth + seqWidth
	maxSeq     = idBase * idBase * idBase
	maxSeconds = idBase * idBase * idBase * idBase * idBase * idBase
)

// idDigit maps a byte to its value in idAlphabet, or -1.
func idDigit(c byte) int64 {
	for i := 0; i < len(idAlphabet); i++ {
		if idAlphabet[i] == c {
			return int64(i)
		}
	}
	return -1
}

// ValidID reports whether s has the exact form of a queue id that NewID
// makes. Only such ids are used to name files, so ids from clients must be
// checked with it; a valid id never contains '/' or '.'.
func ValidID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if idDigit(s[i]) < 0 {
			return false
		}
	}
	_, usec, _ := decodeID(s)
	return usec < 1e6
}

// encodeBase52 appends n as exactly width base-52 digits.
func encodeBase52(dst []byte, n int64, width int) []byte {
	start := len(dst)
	for i := 0; i < width; i++ {
		dst = append(dst, '0')
	}
	for i := len(dst) - 1; i >= start; i-- {
		dst[i] = idAlphabet[n%idBase]
		n /= idBase
	}
	return dst
}

// decodeBase52 decodes s, which must hold only alphabet bytes.
func decodeBase52(s string) int64 {
	var n int64
	for i := 0; i < len(s); i++ {
		n = n*idBase + idDigit(s[i])
	}
	return n
}

// decodeID splits an id of the right length and alphabet into its parts.
func decodeID(s string) (sec, usec, seq int64) {
	return decodeBase52(s[:secWidth]),
		decodeBase52(s[secWidth : secWidth+usecWidth]),
		decodeBase52(s[secWidth+usecWidth:])
}

// idGen makes strictly increasing ids from the clock and a sequence.
type idGen struct {
	mu   sync.Mutex
	sec  int64 // time of the last id
	usec int64
	seq  int64 // sequence of the last id within that microsecond
}

// observe makes every later id greater than id (used with the greatest
// stored id at open, in case the clock went back across a restart).
func (g *idGen) observe(id string) {
	if !ValidID(id) {
		return
	}
	sec, usec, seq := decodeID(id)
	g.mu.Lock()
	defer g.mu.Unlock()
	if sec > g.sec || (sec == g.sec && (usec > g.usec || (usec == g.usec && seq > g.seq))) {
		g.sec, g.usec, g.seq = sec, usec, seq
	}
}

// next returns an id greater than every id made or observed before.
func (g *idGen) next(now time.Time) string {
	sec, usec := now.Unix(), int64(now.Nanosecond()/1000)
	if sec < 0 {
		sec, usec = 0, 0
	}
	if sec >= maxSeconds {
		sec, usec = maxSeconds-1, 999999
	}
	g.mu.Lock()
	if sec > g.sec || (sec == g.sec && usec > g.usec) {
		g.sec, g.usec, g.seq = sec, usec, 0
	} else {
		g.seq++
		if g.seq >= maxSeq {
			g.seq = 0
			g.usec++
			if g.usec == 1e6 {
				g.sec, g.usec = g.sec+1, 0
			}
		}
	}
	b := make([]byte, 0, idLen)
	b = encodeBase52(b, g.sec, secWidth)
	b = encodeBase52(b, g.usec, usecWidth)
	b = encodeBase52(b, g.seq, seqWidth)
	g.mu.Unlock()
	return string(b)
}
