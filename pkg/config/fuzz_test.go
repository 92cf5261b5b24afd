package config

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"relayhost = x\n",
		"a = $b\nb = $a\n",
		"mydestination = a,\n  b\n# c\n  d\n",
		"x = ${y?{1}:{2}}\ny = ${x:z}\n",
		"message_size_limit = 1\nbiff = yes\nqueue_run_delay = 3m\n",
		"  bad\n",
		"= x\n",
		"foo = $(bar\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse("main.cf", strings.NewReader(text))
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, name := range c.Names() {
			c.Get(name)
			c.Duration(name)
		}
		c.Warnings()
		// The settings must survive a round trip through NonDefault.
		nd := c.NonDefault()
		again, err := Parse("main.cf", strings.NewReader(strings.Join(nd, "\n")))
		if err != nil {
			t.Fatalf("reparse of %q: %v", nd, err)
		}
		if got := again.NonDefault(); strings.Join(got, "\n") != strings.Join(nd, "\n") {
			t.Fatalf("round trip changed %q to %q", nd, got)
		}
	})
}

func FuzzExpand(f *testing.F) {
	for _, seed := range []string{
		"$a", "${a}", "$(a)", "${a?x}", "${a:x}", "${a?{x}:{y}}", "$$", "${", "${a?{x}",
		"${loop}", "$deep$deep", "${empty:{${a?{$b}}}}",
		"${{$a} == {A} ? {y} : {n}}", "${{3.6} <level {$a} : {x}}", "${{1} >= {2} ? {${{$b} != {} ? {z}}}}",
	} {
		f.Add(seed)
	}
	base, err := Parse("main.cf", strings.NewReader(
		"a = A\nb = $a$a\ndeep = $b$b$b$b\nempty =\nloop = x\n"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := base.Clone()
		out, err := c.Expand(s)
		if err == nil && len(out) > expandBudget {
			t.Fatalf("output of %d bytes", len(out))
		}
		// Using s as a value must also terminate, including self loops.
		if c.Set("loop", s) == nil {
			c.Get("loop")
		}
	})
}

func FuzzParseMaster(f *testing.F) {
	for _, seed := range []string{
		"smtp inet n - n - - smtpd\n",
		"sub inet n - n - - smtpd\n  -o a=b\n  -o { c = d e }\n",
		"pickup unix n - n 60? 1 qmgr\n",
		"x fifo - - - - - cmd {\n",
		"a unix - - - - - b -o\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		services, err := ParseMaster("master.cf", strings.NewReader(text), 100)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, s := range services {
			if s.Name == "" || s.Type == "" || s.Line < 1 || s.MaxProc < 0 || s.Wakeup < 0 {
				t.Fatalf("bad service %+v", s)
			}
			_ = s.String()
		}
	})
}

// FuzzParseFeedback: destination concurrency feedback values never crash
// the parser, and what it accepts lies between 0 and 1.
func FuzzParseFeedback(f *testing.F) {
	for _, s := range []string{"1/concurrency", "0.5 / Concurrency", "1", "0", "2", "1/window", "-0.1", "", "NaN", "1e-3/concurrency"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		base, _, err := ParseFeedback(s)
		if err == nil && !(base >= 0 && base <= 1) {
			t.Errorf("%q accepted as %v", s, base)
		}
	})
}
