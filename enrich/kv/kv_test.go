package kv

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

type pair struct {
	Key, Value string
	Nil        bool // value was nil (a bare word)
	Quoted     bool
}

func parse(p *Parser, line string) []pair {
	var got []pair
	p.Parse([]byte(line), func(k, v []byte, quoted bool) {
		got = append(got, pair{Key: string(k), Value: string(v), Nil: v == nil, Quoted: quoted})
	})
	return got
}

func TestParse(t *testing.T) {
	iptables := &Parser{AllowEmpty: true, BareKeys: true}
	for _, tc := range []struct {
		name string
		p    *Parser
		line string
		want []pair
	}{
		{
			name: "iptables",
			p:    iptables,
			line: "IN=eth0 OUT= MAC=c7:a2:da:ab:3b:13:d5:41:1c:45:39:c9:08:00 SRC=10.5.95.50 DST=192.168.19.147 LEN=60 TTL=241 ID=26985 DF PROTO=TCP SPT=39219 DPT=8443 WINDOW=64240 RES=0x00 SYN URGP=0",
			want: []pair{
				{Key: "IN", Value: "eth0"}, {Key: "OUT"}, {Key: "MAC", Value: "c7:a2:da:ab:3b:13:d5:41:1c:45:39:c9:08:00"},
				{Key: "SRC", Value: "10.5.95.50"}, {Key: "DST", Value: "192.168.19.147"}, {Key: "LEN", Value: "60"},
				{Key: "TTL", Value: "241"}, {Key: "ID", Value: "26985"}, {Key: "DF", Nil: true}, {Key: "PROTO", Value: "TCP"},
				{Key: "SPT", Value: "39219"}, {Key: "DPT", Value: "8443"}, {Key: "WINDOW", Value: "64240"}, {Key: "RES", Value: "0x00"},
				{Key: "SYN", Nil: true}, {Key: "URGP", Value: "0"},
			},
		},
		{
			name: "defaults drop empty values and bare words",
			p:    &Parser{},
			line: "IN=eth0 OUT= DF  PROTO=TCP ",
			want: []pair{{Key: "IN", Value: "eth0"}, {Key: "PROTO", Value: "TCP"}},
		},
		{
			name: "meraki",
			p:    &Parser{},
			line: "src=10.11.242.147:38659 dst=34.72.97.62:80 mac=FD:63:52:D7:F2:B4 agent='Mozilla/5.0 (Windows NT 10.0; Win64; x64)' request: GET http://x/?a=b",
			want: []pair{
				{Key: "src", Value: "10.11.242.147:38659"}, {Key: "dst", Value: "34.72.97.62:80"}, {Key: "mac", Value: "FD:63:52:D7:F2:B4"},
				{Key: "agent", Value: "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", Quoted: true}, {Key: "http://x/?a", Value: "b"},
			},
		},
		{
			name: "f5 asm",
			p:    &Parser{FieldSplit: ",", AllowEmpty: true},
			line: `unit_hostname="f5-dmz-01",management_ip_address_2="",violations="Attack signature detected,Illegal meta character in value",query_string="file=../../etc/passwd",sig_names="Automated client access (\"curl\")",request="GET / HTTP/1.1\r\nHost: x\r\n"`,
			want: []pair{
				{Key: "unit_hostname", Value: "f5-dmz-01", Quoted: true}, {Key: "management_ip_address_2", Quoted: true},
				{Key: "violations", Value: "Attack signature detected,Illegal meta character in value", Quoted: true},
				{Key: "query_string", Value: "file=../../etc/passwd", Quoted: true},
				{Key: "sig_names", Value: `Automated client access (\"curl\")`, Quoted: true},
				{Key: "request", Value: `GET / HTTP/1.1\r\nHost: x\r\n`, Quoted: true},
			},
		},
		{
			name: "value separator inside the value",
			p:    &Parser{},
			line: "q=a=b url=http://x/?y=1",
			want: []pair{{Key: "q", Value: "a=b"}, {Key: "url", Value: "http://x/?y=1"}},
		},
		{
			name: "escaped quotes and backslashes",
			p:    &Parser{},
			line: `a="x \"y\" z" b='it\'s' c="ends in \\" d=1`,
			want: []pair{{Key: "a", Value: `x \"y\" z`, Quoted: true}, {Key: "b", Value: `it\'s`, Quoted: true}, {Key: "c", Value: `ends in \\`, Quoted: true}, {Key: "d", Value: "1"}},
		},
		{
			name: "unterminated quote runs to the end",
			p:    &Parser{FieldSplit: ","},
			line: `a="1",request="GET /download?file=x HTTP/1.1\r\nHost: www.exa`,
			want: []pair{{Key: "a", Value: "1", Quoted: true}, {Key: "request", Value: `GET /download?file=x HTTP/1.1\r\nHost: www.exa`, Quoted: true}},
		},
		{
			name: "text after the closing quote makes the value unquoted",
			p:    &Parser{},
			line: `a="x y"z b=2 c=O'Brien`,
			want: []pair{{Key: "a", Value: `"x y"z`}, {Key: "b", Value: "2"}, {Key: "c", Value: "O'Brien"}},
		},
		{
			name: "no quotes",
			p:    &Parser{NoQuotes: true},
			line: `a="x y" b=2`,
			want: []pair{{Key: "a", Value: `"x`}, {Key: "b", Value: "2"}},
		},
		{
			name: "field separator set, value separator set, trimming",
			p:    &Parser{FieldSplit: ";&", ValueSplit: ":=", TrimKey: " ", TrimValue: " <>"},
			line: " user: <bob> ;&; id=7&flag;=orphan",
			want: []pair{{Key: "user", Value: "bob"}, {Key: "id", Value: "7"}},
		},
		{
			name: "empty key skipped",
			p:    &Parser{AllowEmpty: true, BareKeys: true},
			line: "=x a=1 = b",
			want: []pair{{Key: "a", Value: "1"}, {Key: "b", Nil: true}},
		},
		{
			name: "empty and separators only",
			p:    &Parser{AllowEmpty: true, BareKeys: true},
			line: "   ",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parse(tc.p, tc.line)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{
		``:                          ``,
		`plain`:                     `plain`,
		`say \"hi\"`:                `say "hi"`,
		`it\'s`:                     `it's`,
		`a\\b`:                      `a\b`,
		`GET / HTTP/1.1\r\nHost: x`: "GET / HTTP/1.1\r\nHost: x",
		`tab\there`:                 "tab\there",
		`C:\Users\x`:                `C:\Users\x`,
		`trailing\`:                 `trailing\`,
	} {
		if got := string(Unquote(nil, []byte(in))); got != want {
			t.Errorf("Unquote(%q) = %q, want %q", in, got, want)
		}
	}
	dst := []byte("prefix:")
	if got := string(Unquote(dst, []byte(`\"x\"`))); got != `prefix:"x"` {
		t.Errorf("Unquote appends: got %q", got)
	}
}

func TestParseAllocs(t *testing.T) {
	p := &Parser{FieldSplit: ",", AllowEmpty: true}
	line := []byte(f5Line)
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		p.Parse(line, func(k, v []byte, q bool) { n++ })
	})
	if allocs != 0 {
		t.Errorf("Parse allocates %v times per line", allocs)
	}
}

// TestTwoFieldSeparators compares the word-at-a-time search for two
// field separators (FortiOS's " ,") with the reference on lines with keys
// and values longer than a word on both sides of each separator.
func TestTwoFieldSeparators(t *testing.T) {
	for _, line := range []string{
		`date=2026-11-22 time=09:00:16 devname="FGT60F-HQ" devid="FGT60FTK21000001" eventtime=1795334416123456789 srcintf="internal"`,
		`date=2026-11-22,time=09:00:16,devname="FGT60F-HQ",devid="FGT60FTK21000001",msg="a, b c",sentbyte=12345678901234`,
		"=\"\"0000 =", "averyverylongkeyname=averyverylongvalue,anotherverylongkey anotherverylongvalue=x,",
		"k0123456789=v0123456789 k0123456789,v0123456789=k0123456789=v", ",, ,a=b ,, c=d,,",
	} {
		for _, p := range []*Parser{{FieldSplit: " ,"}, {FieldSplit: ", ,", AllowEmpty: true, BareKeys: true}, {FieldSplit: " ,", ValueSplit: ":="}} {
			checkReference(t, p, []byte(line))
		}
	}
}
