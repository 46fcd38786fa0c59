package parsers

import (
	"bytes"
	"strings"

	"github.com/sluicelab/sluice/enrich/kv"
)

// ArcSight Common Event Format, as a kv step with cef: true:
//
//	CEF:0|F5|ASM|16.1.0|200021069|SQL-INJ expressions like or 1=1|5|src=203.0.113.66 spt=51233 cs1=/Common/shop cs1Label=policy_name request=GET /a b
//
// Seven header fields separated by '|' ("\|" and "\\" escaped), then the
// extension: key=value pairs separated by spaces, where a value runs to
// the next " key=" (values hold spaces; "\=", "\\", "\n" and "\r" are
// escaped). With cef_labels, a custom field (cs1, cn2, c6a3,
// deviceCustomDate1, flexString1, ...) takes the name its label gives
// (cs1Label=policy_name: the value of cs1 is the pair policy_name), so
// that the same fields mapping serves a vendor's CEF and key=value forms;
// the *Label pairs themselves are dropped.

// maxCEFPairs bounds the pairs read from one extension.
const maxCEFPairs = 512

// cefHeaderField returns the end of the header field starting at s[i]
// (the index of its '|'), -1 when there is none, and whether the field
// holds a backslash.
func cefHeaderField(s string, i int) (int, bool) {
	esc := false
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\\':
			esc = true
			j++
		case '|':
			return j, esc
		}
	}
	return -1, esc
}

func cefKeyByte(c byte) bool { return cefKey[c] }

// cefKey is the set of bytes a CEF extension key is made of.
var cefKey = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
	}
	return t
}()

// cefKeyAt reports whether b[i:] starts with a key and '='.
func cefKeyAt(b []byte, i int) bool {
	j := i
	for j < len(b) && cefKey[b[j]] {
		j++
	}
	return j > i && j < len(b) && b[j] == '='
}

// cefExtension appends the pairs of a CEF extension to out (at most
// maxCEFPairs) as spans of ext. A value runs to the space before the next
// key=; trailing spaces are not part of it. Text that is not a pair (a
// word without '=' before the first key) is skipped. kv.Escaped marks a
// value with a backslash.
func cefExtension(ext []byte, out []kv.Span) []kv.Span {
	n := len(ext)
	i := 0
	next := -1 // the '=' of the key at i, when the last value found it
	for i < n && len(out) < maxCEFPairs {
		k0 := i
		if next >= 0 {
			i, next = next, -1
		} else {
			for i < n && ext[i] == ' ' {
				i++
			}
			k0 = i
			for i < n && cefKey[ext[i]] {
				i++
			}
			if i == k0 || i >= n || ext[i] != '=' {
				for i < n && ext[i] != ' ' { // not a pair: skip the word
					i++
				}
				continue
			}
		}
		k1 := i
		i++
		v0 := i
		end, eq := cefValueEnd(ext, v0)
		fl := kv.Flags(0)
		if bytes.IndexByte(ext[v0:end], '\\') >= 0 {
			fl = kv.Escaped
		}
		v1 := end
		for v1 > v0 && ext[v1-1] == ' ' {
			v1--
		}
		out = append(out, kv.Span{K0: k0, K1: k1, V0: v0, V1: v1, Flags: fl})
		i = end
		if eq >= 0 {
			i, next = end+1, eq // the next key: ext[end+1:eq]
		}
	}
	return out
}

// cefValueEnd returns the end of the value starting at ext[v0]: the first
// space from v0 on that is not escaped by a backslash and is followed by
// a key and '=', and the index of that '='; or len(ext) and -1. It looks for the '=' signs (memchr) and
// walks back over each one's key, rather than testing every space: values
// hold many spaces and few '='.
func cefValueEnd(ext []byte, v0 int) (int, int) {
	for p := v0; p < len(ext); {
		q := bytes.IndexByte(ext[p:], '=')
		if q < 0 {
			break
		}
		eq := p + q
		k := eq
		for k > v0 && cefKey[ext[k-1]] {
			k--
		}
		// A key after a space at or after v0; the space counts unless an
		// odd run of backslashes (counted from v0, where the value's
		// escapes start) comes right before it.
		if s := k - 1; k < eq && s >= v0 && ext[s] == ' ' {
			b := s
			for b > v0 && ext[b-1] == '\\' {
				b--
			}
			if (s-b)%2 == 0 {
				return s, eq
			}
		}
		p = eq + 1
	}
	return len(ext), -1
}

// cefUnescape appends v to dst with CEF's escapes undone: \= \\ \| and
// \n \r (newlines). Other backslashes are kept.
func cefUnescape(dst, v []byte) []byte {
	for {
		i := bytes.IndexByte(v, '\\')
		if i < 0 || i == len(v)-1 {
			return append(dst, v...)
		}
		dst = append(dst, v[:i]...)
		switch c := v[i+1]; c {
		case '=', '\\', '|':
			dst = append(dst, c)
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		default:
			dst = append(dst, '\\', c)
		}
		v = v[i+2:]
	}
}

// cefCustom reports whether key names a CEF custom field that a *Label
// pair can name.
func cefCustom(key []byte) bool {
	if len(key) < 3 {
		return false
	}
	switch key[0] {
	case 'c':
		return key[1] == 's' || key[1] == 'n' || key[1] == '6' || key[1] == 'f'
	case 'd':
		return bytes.HasPrefix(key, []byte("deviceCustom"))
	case 'f':
		return bytes.HasPrefix(key, []byte("flex"))
	}
	return false
}

// runCEF is run for a kv step with cef: true.
func (s *kvStep) runCEF(st *state, src string) bool {
	i := 0
	if strings.HasPrefix(src, "CEF:") {
		i = 4
	}
	for k := range 7 {
		j, esc := cefHeaderField(src, i)
		if j < 0 {
			return s.optional
		}
		if k < len(s.cefHeader) && s.cefHeaderSym[k] >= 0 && j > i {
			v := src[i:j]
			if esc {
				st.buf = cefUnescape(st.buf[:0], sbytes(v))
				v = st.keep(st.buf)
			}
			st.emit(s.cefHeaderSym[k], s.cefHeader[k], v, tAuto)
		}
		i = j + 1
	}
	ext := sbytes(src[i:])
	st.cefSpans = cefExtension(ext, st.cefSpans[:0])
	spans := st.cefSpans
	for j := range spans {
		sp := &spans[j]
		key := sp.Key(ext)
		if s.cefLabels {
			if bytes.HasSuffix(key, []byte("Label")) && cefCustom(key) {
				continue
			}
			if cefCustom(key) {
				for l := range spans {
					lk := spans[l].Key(ext)
					if len(lk) == len(key)+5 && bytes.HasPrefix(lk, key) && bytes.HasSuffix(lk, []byte("Label")) {
						if lv := spans[l].Value(ext); len(lv) > 0 {
							key = lv
						}
						break
					}
				}
			}
		}
		if s.trimKey != nil {
			key = s.trimKey.trim(key)
		} else if s.p.TrimKey != "" { // not ASCII: bytes.Trim's runes
			key = bytes.Trim(key, s.p.TrimKey)
		}
		v := sp.Value(ext)
		if len(key) == 0 || len(v) == 0 && !s.allowEmpty {
			continue
		}
		var val string
		if sp.Flags&kv.Escaped != 0 {
			st.buf = cefUnescape(st.buf[:0], v)
			val = st.keep(st.buf)
		} else {
			val = bstr(v)
		}
		st.kvValue(s, key, val)
	}
	return true
}

// byteSet is a set of bytes, for trimming keys without building the set
// per pair as bytes.Trim does.
type byteSet [256]bool

// newByteSet returns the set of the bytes of chars; nil when chars is
// empty or not ASCII (bytes.Trim reads it as runes).
func newByteSet(chars string) *byteSet {
	if chars == "" {
		return nil
	}
	t := new(byteSet)
	for i := 0; i < len(chars); i++ {
		if chars[i] >= 0x80 {
			return nil
		}
		t[chars[i]] = true
	}
	return t
}

// trim returns b without the bytes of t at either end.
func (t *byteSet) trim(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && t[b[i]] {
		i++
	}
	for j > i && t[b[j-1]] {
		j--
	}
	return b[i:j]
}
