package query

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// IsTextField reports whether path is analysed like an Elasticsearch text
// field: message, event.original, error.message and any path ending in
// ".text". Other string fields are keywords (exact, case-sensitive).
func IsTextField(path string) bool {
	switch path {
	case "message", "event.original", "error.message":
		return true
	}
	return strings.HasSuffix(path, ".text")
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// joins reports whether a word goes on across mid between prev and next
// (as Unicode word segmentation, which Elasticsearch's standard tokenizer
// follows, keeps "example.com", "don't" and "10.0.0.7" whole): a period,
// apostrophe or colon between letters, a period, comma or semicolon
// between digits.
func joins(prev, mid, next rune) bool {
	if unicode.IsLetter(prev) && unicode.IsLetter(next) {
		return mid == '.' || mid == '\'' || mid == ':' || mid == '\u2019'
	}
	if unicode.IsDigit(prev) && unicode.IsDigit(next) {
		return mid == '.' || mid == ',' || mid == ';' || mid == '\''
	}
	return false
}

// nextWord returns the next word of s at or after i (start, end), or
// start == -1 when there is none. Words are runs of letters, digits and
// underscores, joined across single periods and the like (see joins).
func nextWord(s string, i int) (int, int) {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiWord[c] {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if isWordRune(r) {
			break
		}
		i += n
	}
	if i >= len(s) {
		return -1, -1
	}
	start := i
	prev := rune(0)
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf && asciiWord[c] {
			prev = rune(c)
			i++
			continue
		}
		r, n := rune(c), 1
		if c >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
			if isWordRune(r) {
				prev = r
				i += n
				continue
			}
		}
		if i+n < len(s) {
			next, _ := utf8.DecodeRuneInString(s[i+n:])
			if joins(prev, r, next) {
				i += n
				continue
			}
		}
		break
	}
	return start, i
}

// asciiWord marks the ASCII word characters.
var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for c := 0; c < utf8.RuneSelf; c++ {
		t[c] = c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	return t
}()

// words splits s into lowercased words.
func words(s string) []string {
	var out []string
	for i := 0; ; {
		a, b := nextWord(s, i)
		if a < 0 {
			return out
		}
		out = append(out, strings.ToLower(s[a:b]))
		i = b
	}
}

// containsPhrase reports whether the words of s include ws (lowercased)
// consecutively, case-insensitively.
func containsPhrase(s string, ws []string) bool {
	if len(ws) == 0 {
		return false
	}
	for i := 0; ; {
		a, b := nextWord(s, i)
		if a < 0 {
			return false
		}
		if strings.EqualFold(s[a:b], ws[0]) {
			ok := true
			j := b
			for _, w := range ws[1:] {
				c, e := nextWord(s, j)
				if c < 0 || !strings.EqualFold(s[c:e], w) {
					ok = false
					break
				}
				j = e
			}
			if ok {
				return true
			}
		}
		i = b
	}
}

// anyWord reports whether some word of s satisfies fn.
func anyWord(s string, fn func(w string) bool) bool {
	for i := 0; ; {
		a, b := nextWord(s, i)
		if a < 0 {
			return false
		}
		if fn(s[a:b]) {
			return true
		}
		i = b
	}
}

// litStar and litQuestion stand for an escaped (literal) '*' and '?' in a
// wildcard pattern.
const (
	litStar     = '\uE000'
	litQuestion = '\uE001'
)

// wildcardMatch reports whether s matches pattern p as a whole, where '*'
// matches any run of characters and '?' exactly one (a Unicode code
// point); other characters match themselves (fold: case-insensitively,
// with p already lowercased).
func wildcardMatch(p, s string, fold bool) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				starP, starS = pi, si
				pi++
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(s[si:])
				pi++
				si += n
				continue
			default:
				pr, pn := utf8.DecodeRuneInString(p[pi:])
				switch pr {
				case litStar:
					pr = '*'
				case litQuestion:
					pr = '?'
				}
				sr, sn := utf8.DecodeRuneInString(s[si:])
				if pr == sr || fold && unicode.ToLower(sr) == pr {
					pi += pn
					si += sn
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
