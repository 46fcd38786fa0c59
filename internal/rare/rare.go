// Package rare finds a substring by its rarest byte. strings.Index and
// bytes.Index look for the needle's first byte and compare there: a
// needle that starts with a byte log lines are full of (" SRC=", "session
// closed ") costs a compare at every space or "s" of a line that lacks
// it. Index looks for the byte Byte picks instead (the "v" of "devid=",
// the "[" of "[SECEV] Request "), so a miss costs about one memchr pass.
// Used by the parsers' detect conditions and contains maps and by grok's
// prefilter.
package rare

import "strings"

// Index is strings.Index(s, sep) for a non-empty sep, looking for
// sep[off]; off is best Byte(sep). The candidates come in order, so the
// first that compares is the first match.
func Index(s, sep string, off int) int {
	c := sep[off]
	for i := off; i < len(s); {
		j := strings.IndexByte(s[i:], c)
		if j < 0 {
			return -1
		}
		start := i + j - off
		if start+len(sep) > len(s) {
			return -1
		}
		if s[start:start+len(sep)] == sep {
			return start
		}
		i += j + 1
	}
	return -1
}

// Byte returns the index of the byte of sep that log lines hold least
// often, by a rough ranking (spaces, digits and the common letters and
// punctuation of key=value text are frequent; q, z, x, j, upper case and
// brackets are not); the first of equals.
func Byte(sep string) int {
	best, bestRank := 0, 1<<30
	for i := 0; i < len(sep); i++ {
		if r := rank(sep[i]); r < bestRank {
			best, bestRank = i, r
		}
	}
	return best
}

func rank(c byte) int {
	switch {
	case c == ' ':
		return 100
	case c >= '0' && c <= '9':
		return 90
	case strings.IndexByte("etaoinsr", c) >= 0:
		return 80
	case strings.IndexByte("=\",.:/-", c) >= 0:
		return 70
	case strings.IndexByte("hldcumfpg", c) >= 0:
		return 60
	case strings.IndexByte("wybvk", c) >= 0:
		return 40
	case c >= 'A' && c <= 'Z':
		return 30
	case strings.IndexByte("_()", c) >= 0:
		return 25
	case strings.IndexByte("xjqz", c) >= 0:
		return 20
	case strings.IndexByte("[]<>@%", c) >= 0:
		return 15 // "request" and "query" are common in web logs
	}
	return 10
}
