package milters

import (
	"maps"
	"slices"
	"testing"

	"github.com/d--j/go-milter"
)

func TestMacroNames(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"", []string{}},
		{"j {daemon_name} {daemon_addr} v _", []string{"j", "{daemon_name}", "{daemon_addr}", "v", "_"}},
		{"i,{rcpt_addr}, rcpt_host", []string{"i", "{rcpt_addr}", "{rcpt_host}"}},
	} {
		if got := MacroNames(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("MacroNames(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseMacroDefaults(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{in: "", want: map[string]string{}},
		{in: "{auth_type}=none, j=mx", want: map[string]string{"{auth_type}": "none", "j": "mx"}},
		{in: "daemon_name=ORIG v=", want: map[string]string{"{daemon_name}": "ORIG", "v": ""}},
		{in: "{ {rcpt_host} = a b, c }", want: map[string]string{"{rcpt_host}": "a b, c"}},
		{in: "{ name = x } tail=y", want: map[string]string{"{name}": "x", "{tail}": "y"}},
		{in: "novalue", wantErr: true},
		{in: "{ open = x", wantErr: true},
		{in: "=x", wantErr: true},
	} {
		got, err := ParseMacroDefaults(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseMacroDefaults(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !maps.Equal(got, tt.want) {
			t.Errorf("ParseMacroDefaults(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestMacroDefaultsFallBack: a default is used only when the session
// has no value of its own.
func TestMacroDefaultsFallBack(t *testing.T) {
	bag := milter.NewMacroBag()
	bag.Set(milter.MacroAuthType, "PLAIN")
	m := &Conf{macroDefaults: map[string]string{"{auth_type}": "none", "{auth_authen}": "nobody"}}
	got := m.withDefaults(bag)
	if v := got.Get(milter.MacroAuthType); v != "PLAIN" {
		t.Errorf("{auth_type} = %q, want the session's", v)
	}
	if v, ok := got.GetEx(milter.MacroAuthAuthen); !ok || v != "nobody" {
		t.Errorf("{auth_authen} = %q %v, want the default", v, ok)
	}
	if _, ok := got.GetEx(milter.MacroCipher); ok {
		t.Error("{cipher} has a value though neither session nor defaults give one")
	}
}

func FuzzParseMacroDefaults(f *testing.F) {
	for _, s := range []string{"", "{auth_type}=none, j=mx", "{ {rcpt_host} = a b, c }", "{", "}=", "{=}", "a=b={c}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseMacroDefaults(s)
		if err != nil {
			return
		}
		for name := range got {
			if name == "" || (len(name) > 1 && name[0] != '{') {
				t.Errorf("ParseMacroDefaults(%q): bad name %q", s, name)
			}
		}
	})
}
