package dnscheck

import (
	"strings"
	"unicode"

	"github.com/mtibben/confusables"
	"golang.org/x/net/idna"
)

// watched is one dns.watch_domains entry.
type watched struct {
	domain string // registered domain, punycode
	label  string // its own label ("paypal")
	skel   string // the Unicode TR39 skeleton of the label (Unicode form)
}

func newWatched(d string) watched {
	var f nameFacts
	splitName(d, &f)
	w := watched{domain: d, label: f.label}
	if f.registered == "" { // the domain is a public suffix or one label
		w.domain, w.label = d, d
	}
	w.skel = skeleton(w.label)
	return w
}

// asciiSkeleton holds the skeleton of each ASCII character (0 to O, 1 to
// l, m to rn, ...), so that ASCII labels, nearly all of them, are mapped
// without the Unicode normalisation.
var asciiSkeleton = func() (t [128]string) {
	for c := range t {
		t[c] = confusables.Skeleton(string(rune(c)))
	}
	return t
}()

// appendSkeleton appends the skeleton of label to dst: a fast path for
// ASCII labels, skeleton for the others.
func appendSkeleton(dst []byte, label string) []byte {
	if !isASCII(label) || strings.HasPrefix(label, "xn--") {
		return append(dst, skeleton(label)...)
	}
	for i := 0; i < len(label); i++ {
		dst = append(dst, asciiSkeleton[label[i]]...)
	}
	return dst
}

// skeleton is the TR39 skeleton of a label: its Unicode form (punycode
// decoded) with every confusable character mapped to its prototype
// (Cyrillic а to a, 0 to O, m to rn, ...), so that labels that look
// alike have the same skeleton.
func skeleton(label string) string {
	if strings.HasPrefix(label, "xn--") {
		if u, err := idna.Punycode.ToUnicode(label); err == nil {
			label = u
		}
	}
	sk := confusables.Skeleton(label)
	// Accents are marks after NFD: without them bücher and bucher share
	// a skeleton, as they look alike at a glance.
	if !isASCII(sk) {
		sk = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, sk)
	}
	return sk
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Look-alike kinds (sluice.dns.lookalike_kind).
const (
	kindHomoglyph = "homoglyph" // same skeleton: other scripts' letters or 0/O, rn/m
	kindTypo      = "typo"      // edit distance 1 (2 for labels of 8 or more)
	kindCombo     = "combo"     // the watched label inside a longer one (paypal-login)
)

// lookalike returns the watched domain f's registered domain imitates and
// how, or "".
func lookalike(ws []watched, f *nameFacts) (string, string) {
	if len(ws) == 0 || f.registered == "" || len(f.label) > 63 {
		return "", ""
	}
	var buf [256]byte
	var skel []byte
	for i := range ws {
		w := &ws[i]
		if f.registered == w.domain {
			return "", "" // the real one
		}
		if f.label == w.label {
			continue // same name under another suffix: not a look-alike by itself
		}
		if skel == nil {
			skel = appendSkeleton(buf[:0], f.label)
		}
		if string(skel) == w.skel {
			return w.domain, kindHomoglyph
		}
		if d := editDistance(f.label, w.label, 2); d == 1 && len(w.label) >= 4 || d == 2 && len(w.label) >= 8 {
			return w.domain, kindTypo
		}
		if len(w.label) >= 5 && strings.Contains(f.label, w.label) {
			return w.domain, kindCombo
		}
	}
	return "", ""
}

// editDistance is the optimal string alignment distance of a and b
// (bytes; Levenshtein with transpositions of neighbours as one edit, so
// pyapal is one edit from paypal), or limit+1 when it is larger than
// limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	if len(a) > 64 || len(b) > 64 {
		return limit + 1
	}
	var prev2, prev, cur [65]int
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			best = min(best, cur[j])
		}
		if best > limit {
			return limit + 1
		}
		prev2, prev = prev, cur
	}
	return min(prev[len(b)], limit+1)
}
