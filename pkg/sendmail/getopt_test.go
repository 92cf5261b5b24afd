package sendmail

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// scan runs getopt over args and renders the options as "c" or "c=arg".
func scan(args []string) (opts []string, rest []string, err error) {
	g := newGetopt(args, optString)
	for n := 0; n < 1000; n++ {
		o, done, err := g.next()
		if err != nil {
			return opts, nil, err
		}
		if done {
			break
		}
		s := string(o.name)
		if o.arg != "" {
			s += "=" + o.arg
		}
		opts = append(opts, s)
	}
	return opts, g.rest(), nil
}

func TestGetopt(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		opts    []string
		rest    []string
		wantErr string
	}{
		{"empty", nil, nil, nil, ""},
		{"recipients only", []string{"a@b", "c"}, nil, []string{"a@b", "c"}, ""},
		{"-oi", []string{"-oi", "x"}, []string{"o=i"}, []string{"x"}, ""},
		{"-o i separate", []string{"-o", "i", "x"}, []string{"o=i"}, []string{"x"}, ""},
		{"-odb", []string{"-odb"}, []string{"o=db"}, []string{}, ""},
		{"-fuser attached", []string{"-fuser@x", "r"}, []string{"f=user@x"}, []string{"r"}, ""},
		{"-f user separate", []string{"-f", "user@x", "r"}, []string{"f=user@x"}, []string{"r"}, ""},
		{"-f with empty value", []string{"-f", "", "r"}, []string{"f"}, []string{"r"}, ""},
		{"-F name", []string{"-F", "John Doe", "-Fx"}, []string{"F=John Doe", "F=x"}, []string{}, ""},
		{"combined -ti", []string{"-ti"}, []string{"t", "i"}, []string{}, ""},
		{"combined -tif arg", []string{"-tifme", "r"}, []string{"t", "i", "f=me"}, []string{"r"}, ""},
		{"combined -it then -f next", []string{"-itf", "me", "r"}, []string{"i", "t", "f=me"}, []string{"r"}, ""},
		{"double dash", []string{"-i", "--", "-t", "r"}, []string{"i"}, []string{"-t", "r"}, ""},
		{"lone dash is operand", []string{"-i", "-", "r"}, []string{"i"}, []string{"-", "r"}, ""},
		{"stops at first operand", []string{"r", "-t"}, nil, []string{"r", "-t"}, ""},
		{"-bs", []string{"-bs"}, []string{"b=s"}, []string{}, ""},
		{"-b s", []string{"-b", "s"}, []string{"b=s"}, []string{}, ""},
		{"-qR site", []string{"-qRexample.com"}, []string{"q=Rexample.com"}, []string{}, ""},
		{"-N list", []string{"-N", "success,delay"}, []string{"N=success,delay"}, []string{}, ""},
		{"unknown option", []string{"-z"}, nil, nil, "invalid option -- 'z'"},
		{"unknown in group", []string{"-tz"}, []string{"t"}, nil, "invalid option -- 'z'"},
		{"colon is no option", []string{"-:"}, nil, nil, "invalid option -- ':'"},
		{"missing argument", []string{"-f"}, nil, nil, "option requires an argument -- 'f'"},
		{"missing argument after group", []string{"-tF"}, []string{"t"}, nil, "option requires an argument -- 'F'"},
		{"nonprintable option", []string{"-\x01"}, nil, nil, "invalid option -- '\\x01'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, rest, err := scan(tt.args)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !reflect.DeepEqual(opts, tt.opts) {
					t.Errorf("opts before error = %q, want %q", opts, tt.opts)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(opts, tt.opts) || !reflect.DeepEqual(rest, tt.rest) {
				t.Errorf("got opts %q rest %q, want %q %q", opts, rest, tt.opts, tt.rest)
			}
		})
	}
}

// optView is the part of options a test compares.
type optView struct {
	mode                 mode
	extract, ignoreDots  bool
	senderSet            bool
	sender, fullname     string
	notify, ret, envid   string
	verbose              int
	qtime                bool
	flushSite, flushID   string
	configDir            string
	args                 string
	aliasMaps, warnCount int
	verp                 string // "" for none, else the delimiters ("default" for the default)
}

func view(o *options) optView {
	return optView{
		mode: o.mode, extract: o.extract, ignoreDots: o.ignoreDots,
		senderSet: o.senderSet, sender: o.sender, fullname: o.fullname,
		notify: o.notify, ret: o.ret, envid: o.envid, verbose: o.verbose,
		qtime: o.qtime, flushSite: o.flushSite, flushID: o.flushID,
		configDir: o.configDir, args: strings.Join(o.args, "|"),
		aliasMaps: len(o.aliasMaps), warnCount: len(o.warnings),
		verp: verpView(o),
	}
}

func verpView(o *options) string {
	switch {
	case !o.verpSet:
		return ""
	case o.verp == "":
		return "default"
	}
	return o.verp
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name string
		prog string
		args []string
		want optView
	}{
		{"default", "sendmail", []string{"a@b"}, optView{args: "a@b"}},
		{"cron style", "sendmail", []string{"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"},
			optView{fullname: "CronDaemon", ignoreDots: true, args: "root"}},
		{"php style", "sendmail", []string{"-t", "-i"}, optView{extract: true, ignoreDots: true, args: ""}},
		{"git send-email", "sendmail", []string{"-i", "-f", "me@x", "you@y"},
			optView{ignoreDots: true, senderSet: true, sender: "me@x", args: "you@y"}},
		{"-r is -f", "sendmail", []string{"-r", "me@x", "y"}, optView{senderSet: true, sender: "me@x", args: "y"}},
		{"-oi", "sendmail", []string{"-oi", "y"}, optView{ignoreDots: true, args: "y"}},
		{"ignored -o", "sendmail", []string{"-odb", "-oem", "-om", "-odi", "-oeq", "y"}, optView{args: "y"}},
		{"ignored flags", "sendmail", []string{"-G", "-U", "-m", "-x", "-c", "-Lx", "-h", "5", "-e", "x", "-Ax", "-O", "a=b", "-pesmtp", "y"}, optView{args: "y"}},
		{"dsn", "sendmail", []string{"-N", "success, delay", "-R", "hdrs", "-V", "ab-1", "y"},
			optView{notify: "SUCCESS,DELAY", ret: "HDRS", envid: "ab-1", args: "y"}},
		{"bad dsn warns", "sendmail", []string{"-N", "sometimes", "-R", "most", "y"}, optView{args: "y", warnCount: 2}},
		{"never plus other is bad", "sendmail", []string{"-N", "never,success", "y"}, optView{args: "y", warnCount: 1}},
		// VERP was warned about and ignored; the last of its forms wins.
		{"VERP -XV", "sendmail", []string{"-XV", "y"}, optView{args: "y", verp: "default"}},
		{"VERP -XV with delimiters", "sendmail", []string{"-XV-=", "y"}, optView{args: "y", verp: "-="}},
		{"VERP deprecated forms", "sendmail", []string{"-V", "+=", "y"}, optView{args: "y", verp: "+="}},
		{"VERP -Vxy", "sendmail", []string{"-XV", "-V-=", "y"}, optView{args: "y", verp: "-="}},
		{"mailq argv0", "mailq", nil, optView{mode: modeMailq}},
		{"-bp", "sendmail", []string{"-bp"}, optView{mode: modeMailq}},
		{"newaliases argv0", "newaliases", nil, optView{mode: modeNewaliases}},
		{"-bi", "sendmail", []string{"-bi"}, optView{mode: modeNewaliases}},
		{"-I", "sendmail", []string{"-I", "-oA/etc/aliases"}, optView{mode: modeNewaliases, aliasMaps: 1}},
		{"newaliases -bp", "newaliases", []string{"-bp"}, optView{mode: modeMailq}},
		{"-bs", "sendmail", []string{"-bs"}, optView{mode: modeSMTP}},
		{"-bm", "mailq", []string{"-bm", "y"}, optView{args: "y"}},
		{"-q", "sendmail", []string{"-q"}, optView{mode: modeFlush}},
		{"-q -v", "sendmail", []string{"-q", "-v"}, optView{mode: modeFlush, verbose: 1}},
		{"-q1h", "sendmail", []string{"-q1h"}, optView{qtime: true}},
		{"-qR", "sendmail", []string{"-qRexample.com"}, optView{flushSite: "example.com"}},
		{"-qI", "sendmail", []string{"-qIABC"}, optView{flushID: "ABC"}},
		{"-bh", "sendmail", []string{"-bh"}, optView{mode: modeIgnore}},
		{"-bd", "sendmail", []string{"-bd"}, optView{mode: modeDaemon}},
		{"-C file", "sendmail", []string{"-C", "/etc/tern/main.cf", "y"}, optView{configDir: "/etc/tern", args: "y"}},
		{"-C dir", "sendmail", []string{"-C/etc/tern2", "y"}, optView{configDir: "/etc/tern2", args: "y"}},
		{"-v -v", "sendmail", []string{"-v", "-v", "y"}, optView{verbose: 2, args: "y"}},
		{"empty -f", "sendmail", []string{"-f", "", "y"}, optView{senderSet: true, args: "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.prog, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if got := view(o); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseOptionsErrors(t *testing.T) {
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{"-z"}, "usage: sendmail [options] [recipient ...]"},
		{[]string{"-n", "y"}, "-n option not supported"},
		{[]string{"-B", "9BIT"}, "-B option needs 8BITMIME or 7BIT"},
		{[]string{"-bz"}, "unsupported: -bz"},
		{[]string{"-b", ""}, "unsupported: -b"},
		{[]string{"-Xlog"}, "unsupported: -Xl"},
		{[]string{"-bv", "-t"}, "-t cannot be used with -bv: the recipients are given on the command line"},
		{[]string{"-qX"}, "-qX is not implemented"},
		{[]string{"-qR"}, "specify: -qRsitename"},
		{[]string{"-qI"}, "specify: -qIqueueid"},
		{[]string{"-oA"}, "-oA requires pathname"},
		{[]string{"-bs", "-t"}, "-t can be used only in delivery mode"},
		{[]string{"-bp", "-qRx"}, "-qR can be used only in delivery mode"},
		{[]string{"-bp", "y"}, "display queue mode requires no recipient"},
		{[]string{"-q", "y"}, "flush queue mode requires no recipient"},
		{[]string{"-bi", "y"}, "alias initialization mode requires no recipient"},
		{[]string{"-bs", "y"}, "stand-alone mode requires no recipient"},
		{[]string{"-qRx", "y"}, "flush site requires no recipient"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseOptions("sendmail", tt.args)
			var ee *exitError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want exitError", err)
			}
			if ee.code != ExUsage || ee.msg != tt.msg {
				t.Errorf("got %d %q, want %d %q", ee.code, ee.msg, ExUsage, tt.msg)
			}
		})
	}
}

func FuzzGetopt(f *testing.F) {
	for _, s := range []string{"-oi\x00-f\x00x\x00r", "-tif\x00me", "-q\x00-V\x00xy", "--\x00-t", "-", "-\xff", "-qR", "-bs\x00-t", "-C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		o, err := parseOptions("sendmail", args)
		if err != nil {
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != ExUsage {
				t.Fatalf("error %v is not a usage error", err)
			}
			return
		}
		if len(o.args) > len(args) || !reflect.DeepEqual(o.args, args[len(args)-len(o.args):]) {
			t.Fatalf("operands %q are not a suffix of %q", o.args, args)
		}
	})
}
