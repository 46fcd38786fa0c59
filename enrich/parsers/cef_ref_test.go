package parsers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicelab/sluice/enrich/kv"
)

// cefExtensionRef is the byte-by-byte reading of a CEF extension that
// cefExtension replaced: each space is tested for a following "key=".
// FuzzCEFExtensionRef checks the two agree.
func cefExtensionRef(ext []byte, out []kv.Span) []kv.Span {
	n := len(ext)
	i := 0
	for i < n && len(out) < maxCEFPairs {
		for i < n && ext[i] == ' ' {
			i++
		}
		k0 := i
		for i < n && cefKeyByte(ext[i]) {
			i++
		}
		if i == k0 || i >= n || ext[i] != '=' {
			for i < n && ext[i] != ' ' {
				i++
			}
			continue
		}
		k1 := i
		i++
		v0, end, fl := i, n, kv.Flags(0)
		for j := i; j < n; j++ {
			switch c := ext[j]; {
			case c == '\\':
				fl = kv.Escaped
				j++
			case c == ' ' && cefKeyAt(ext, j+1):
				end = j
			}
			if end != n {
				break
			}
		}
		v1 := min(end, n)
		for v1 > v0 && ext[v1-1] == ' ' {
			v1--
		}
		out = append(out, kv.Span{K0: k0, K1: k1, V0: v0, V1: v1, Flags: fl})
		i = end
	}
	return out
}

var cefRefSeeds = []string{
	"src=1.2.3.4 spt=80", `request=GET /a?b\=c HTTP/1.1\r\n act=blocked`, `a=x\\ b=y`, `a=x\ b=y`, `a=x\\\ b=y c=z`,
	"a=1 = 2 b=", "=x a=", `\`, "a=\\", "a= =b= c=", "a= b=c", "a=x  b=c  ", `a=x \b=c d=e`, `a=x b\=c d=e`,
	"cs1=/Common/shop cs1Label=policy_name cs5=4429861082520419386 cs5Label=support_id",
	"msg=User admin logged in from 10.0.0.1 url=http://x/?a=b&c=d dst=1.2.3.4", "a=b=c d.e_f=1", "a=\xff b=\x00 c=1",
}

// TestCEFExtensionRef compares cefExtension with the reference on
// escapes, spaces and '=' in values.
func TestCEFExtensionRef(t *testing.T) {
	for _, s := range cefRefSeeds {
		checkCEFRef(t, s)
	}
}

// FuzzCEFExtensionRef checks that cefExtension gives the spans of the
// byte-by-byte reference on any text.
func FuzzCEFExtensionRef(f *testing.F) {
	for _, s := range cefRefSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ext string) { checkCEFRef(t, ext) })
}

func checkCEFRef(t *testing.T, ext string) {
	t.Helper()
	got, want := cefExtension([]byte(ext), nil), cefExtensionRef([]byte(ext), nil)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("cefExtension(%q) (-ref +got):\n%s", ext, diff)
	}
}
