package dnscheck

import (
	"math"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// maxName bounds the names the checks read: a DNS name is at most 253
// characters; longer text is not a name (it is still flagged long).
const maxName = 1024

// nameFacts is what the checks work out from a question name alone.
type nameFacts struct {
	registered string // dns.question.registered_domain ("" when the name is a public suffix)
	subdomain  string // dns.question.subdomain
	tld        string // dns.question.top_level_domain (the public suffix)
	label      string // the registered domain's own label ("example" of example.co.uk)
	unicode    string // the name with punycode labels decoded ("" when it has none)
	entropy    float64
	dga        int
	nameLen    int
	maxLabel   int
	encoded    bool
}

// splitName fills the public-suffix parts of name (lower case, no
// trailing dot).
func splitName(name string, f *nameFacts) {
	suffix, _ := publicsuffix.PublicSuffix(name)
	f.tld = suffix
	if len(suffix) >= len(name) {
		return
	}
	rest := name[:len(name)-len(suffix)-1] // without ".suffix"
	i := strings.LastIndexByte(rest, '.')
	f.label = rest[i+1:]
	f.registered = name[i+1:]
	if i > 0 {
		f.subdomain = rest[:i]
	}
}

// analyze computes every per-name fact.
func analyze(name string, f *nameFacts) {
	*f = nameFacts{nameLen: len(name)}
	if len(name) > maxName {
		name = name[:maxName]
	}
	splitName(name, f)
	if strings.Contains(name, "xn--") {
		if u, err := idna.Punycode.ToUnicode(name); err == nil && u != name {
			f.unicode = u
		}
	}
	for l := range strings.SplitSeq(name, ".") {
		if len(l) > f.maxLabel {
			f.maxLabel = len(l)
		}
		if !f.encoded && encodedLabel(l) {
			f.encoded = true
		}
	}
	f.entropy = entropy(f.label)
	f.dga = dgaScore(f.label)
}

// clog2c[c] is c*log2(c), for entropy.
var clog2c = func() (t [256]float64) {
	for c := 1; c < len(t); c++ {
		t[c] = float64(c) * math.Log2(float64(c))
	}
	return t
}()

// entropy is the Shannon entropy of s's bytes in bits per byte:
// log2(n) - sum(c*log2(c))/n over the counts c of each byte.
func entropy(s string) float64 {
	if len(s) < 2 {
		return 0
	}
	if len(s) > 255 {
		s = s[:255]
	}
	var counts [256]uint8
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	sum := 0.0
	for i := 0; i < len(s); i++ {
		if c := counts[s[i]]; c != 0 {
			sum += clog2c[c]
			counts[s[i]] = 0
		}
	}
	n := float64(len(s))
	return max(0, math.Log2(n)-sum/n)
}

// encodedLabel reports whether a label looks like encoded data rather
// than words: long (at least 20 characters) and either hex with digits and
// letters, or text as unlike words as random symbols are (base32 and
// base64; names are lower-cased, so base64 reads like base32 with more
// symbols): a mean cost of 6 bits or more under the trigram model and
// many distinct symbols.
func encodedLabel(l string) bool {
	if len(l) < 20 {
		return false
	}
	digits, letters, hexOnly := 0, 0, true
	var seen [256]bool
	distinct := 0
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !seen[c] {
			seen[c] = true
			distinct++
		}
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'f':
			letters++
		default:
			hexOnly = false
		}
	}
	if hexOnly && digits > 0 && letters > 0 {
		return true
	}
	if len(l) > 63 {
		l = l[:63]
	}
	return distinct >= 12 && meanCost(l) >= 6
}

// DGA model calibration: a label's mean cost per symbol (bits) at or
// below dgaLow scores 0, at or above dgaHigh 100. English words average
// about 3.5 bits, popular brand names 3.3 to 5, random letters 6.5 to 8.
const (
	dgaLow  = 4.5
	dgaHigh = 6.5
)

// dgaScore is 0..100: how unlike the words of the model a label is, by
// the mean cost of its symbols under the trigram model (model_table.go).
// Short labels carry little evidence and are scaled down.
func dgaScore(l string) int {
	// Punycode is not letters of a language the model knows.
	if len(l) < 4 || strings.HasPrefix(l, "xn--") {
		return 0
	}
	if len(l) > 63 {
		l = l[:63]
	}
	bits := meanCost(l)
	s := (bits - dgaLow) / (dgaHigh - dgaLow) * 100
	if len(l) < 10 {
		s = s * float64(len(l)) / 10
	}
	return int(math.Round(max(0, min(100, s))))
}

// meanCost is the mean cost in bits of l's symbols and its end.
func meanCost(l string) float64 {
	a, b := 0, 0
	total := 0
	for i := 0; i <= len(l); i++ {
		c := 0
		if i < len(l) {
			c = symbol(l[i])
		}
		total += int(trigramCost[(a*28+b)*28+c])
		a, b = b, c
	}
	return float64(total) / 16 / float64(len(l)+1)
}

func symbol(c byte) int {
	if c >= 'a' && c <= 'z' {
		return int(c-'a') + 1
	}
	if c >= 'A' && c <= 'Z' {
		return int(c-'A') + 1
	}
	return 27
}

//go:generate go run ./internal/genmodel -words /usr/share/dict/words -out model_table.go
