package regexpmap

import (
	"strings"
	"testing"
)

// fuzzSeeds are table texts for both flavors.
var fuzzSeeds = []string{
	"/^foo/ REJECT\n",
	"!/(a)/ x\n",
	"/^(\\w+)@(\\w+)$/ $1 ${2} $(1) $$\n",
	"if /a/\n/b/ c\nendif\n",
	"if !/a/\nif /b/\n/c/i d\nendif\nendif\n",
	"|a/b|imx c\n  continued\n",
	"# comment\n\n/a\\/b/ x\n",
	"/(?=a)/ x\n/a*+/ y\n/\\1/ z\n",
	"/a # c/x y\n/[]a]+/sAEU z\n",
	"/\\Q(\\E/ q\n/a{2,3}+/ p\n",
	"endif\n",
	"/a/x b\n",
	"  leading\n",
}

// fuzzKeys are lookup keys tried against every table that parses.
var fuzzKeys = []string{"", "a", "foo", "joe@example", "a/b", "A\nB", strings.Repeat("ab", 100)}

// fuzzParse checks that Parse never panics, that errors name the file and
// a line, and that a parsed table answers lookups.
func fuzzParse(f *testing.F, pcre bool) {
	for _, s := range fuzzSeeds {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, text, key string) {
		tbl, err := Parse("x:f", "f", strings.NewReader(text), pcre)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		for _, k := range append(fuzzKeys, key, text) {
			if _, _, err := tbl.Lookup(k); err != nil {
				t.Fatalf("Lookup(%q): %v", k, err)
			}
		}
	})
}

func FuzzParseRegexp(f *testing.F) { fuzzParse(f, false) }

func FuzzParsePCRE(f *testing.F) { fuzzParse(f, true) }
