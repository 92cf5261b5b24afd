package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Postfix 3.6's relational expressions:
//
//	${{text1} OP {text2} ? {then} : {else}}
//
// with "? {then}" or ": {else}" alone too. The texts are expanded, then
// compared: == and != as strings; <, <=, >, >= as decimal numbers; and
// ==level, !=level, <level, <=level, >level, >=level as compatibility
// levels (3.6 < 3.10). The defaults of Postfix's compatibility-dependent
// parameters are written so, e.g. respectful_logging's
// ${{$compatibility_level} <level {3.6} ? {no} : {yes}}.

// relationalOps are the operators, longest first so that "<=level" is not
// read as "<".
var relationalOps = []string{"==level", "!=level", "<=level", ">=level", "<level", ">level", "==", "!=", "<=", ">=", "<", ">"}

// relational expands the inside of ${...} when it starts with '{'.
func (e *expander) relational(in string) (string, error) {
	left, rest, err := bracedText(in)
	if err != nil {
		return "", err
	}
	rest = strings.TrimLeft(rest, " \t")
	op := ""
	for _, o := range relationalOps {
		if strings.HasPrefix(rest, o) {
			op = o
			break
		}
	}
	if op == "" {
		return "", fmt.Errorf("bad relational expression %q: want ==, !=, <, <=, >, >= or their level forms", "${"+in+"}")
	}
	right, rest, err := bracedText(strings.TrimLeft(rest[len(op):], " \t"))
	if err != nil {
		return "", err
	}
	rest = strings.TrimLeft(rest, " \t")
	if rest == "" || rest[0] != '?' && rest[0] != ':' {
		return "", fmt.Errorf("bad relational expression %q: want ? or : after the operands", "${"+in+"}")
	}
	then, otherwise, err := splitConditional(rest[1:], rest[0])
	if err != nil {
		return "", err
	}
	if rest[0] == ':' {
		then, otherwise = "", then
	}
	a, err := e.expand(left)
	if err != nil {
		return "", err
	}
	b, err := e.expand(right)
	if err != nil {
		return "", err
	}
	ok, err := compare(a, op, b)
	if err != nil {
		return "", err
	}
	if ok {
		return e.expand(then)
	}
	return e.expand(otherwise)
}

// bracedText splits "{text}rest" into text and rest.
func bracedText(s string) (text, rest string, err error) {
	if s == "" || s[0] != '{' {
		return "", "", errors.New("bad relational expression: an operand must be in {}")
	}
	end, err := matchingClose(s, 0)
	if err != nil {
		return "", "", err
	}
	return s[1:end], s[end+1:], nil
}

// compare applies op to a and b.
func compare(a, op, b string) (bool, error) {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	var c int
	switch {
	case op == "==":
		return a == b, nil
	case op == "!=":
		return a != b, nil
	case strings.HasSuffix(op, "level"):
		var err error
		if c, err = compareLevels(a, b); err != nil {
			return false, err
		}
		op = strings.TrimSuffix(op, "level")
	default:
		x, err1 := strconv.ParseInt(a, 10, 64)
		y, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil {
			return false, fmt.Errorf("%q %s %q: need numbers", a, op, b)
		}
		c = cmpInt(x, y)
	}
	switch op {
	case "==":
		return c == 0, nil
	case "!=":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	}
	return c >= 0, nil // ">="
}

// compareLevels compares compatibility levels such as 2, 3.6 and 3.10.1,
// part by part; a missing part is 0.
func compareLevels(a, b string) (int, error) {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		x, err := levelPart(pa, i)
		if err != nil {
			return 0, fmt.Errorf("compatibility level %q: %w", a, err)
		}
		y, err := levelPart(pb, i)
		if err != nil {
			return 0, fmt.Errorf("compatibility level %q: %w", b, err)
		}
		if c := cmpInt(x, y); c != 0 {
			return c, nil
		}
	}
	return 0, nil
}

func levelPart(parts []string, i int) (int64, error) {
	if i >= len(parts) {
		return 0, nil
	}
	n, err := strconv.ParseInt(parts[i], 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("need numbers separated by dots")
	}
	return n, nil
}

func cmpInt(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// BackwardsCompatible lists, as "name=value", the parameters that take a
// default older than the current one because main.cf keeps an older
// compatibility_level: those whose default depends on the level (a
// "<level" expression), are not set, and whose value differs from the
// one at level 3.6. Postfix logs each as a "backwards-compatible default
// setting".
func (c *Config) BackwardsCompatible() []string {
	if _, set := c.Raw("compatibility_level"); !set {
		return nil
	}
	current := c.Clone()
	if err := current.Set("compatibility_level", "3.6"); err != nil {
		return nil
	}
	var out []string
	for _, p := range Params() {
		if !strings.Contains(p.Default, "<level") {
			continue
		}
		if _, set := c.Raw(p.Name); set {
			continue
		}
		if v := c.Get(p.Name); v != current.Get(p.Name) {
			out = append(out, p.Name+"="+v)
		}
	}
	return out
}
