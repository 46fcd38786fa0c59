package event

import (
	"net/netip"
	"testing"
)

// communityIDCase is one published Community ID v1 baseline vector
// (corelight/community-id-spec, baseline/). ICMP inputs are given as type and
// code and fed in the NetFlow form dport = type<<8|code.
type communityIDCase struct {
	seed       uint16
	proto      uint8
	src, dst   string
	sport      uint16 // port, or ICMP type
	dport      uint16 // port, or ICMP code
	want       string
	icmpInputs bool
}

func communityIDCases() []communityIDCase {
	const (
		s4, d4 = "1.2.3.4", "5.6.7.8"
		s6     = "fe80:0001:0203:0405:0607:0809:0A0B:0C0D"
		d6     = "fe80:1011:1213:1415:1617:1819:1A1B:1C1D"
	)
	return []communityIDCase{
		// baseline/README.md, default settings.
		{0, 6, s4, d4, 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM=", false},
		{0, 6, d4, s4, 3344, 1122, "1:wCb3OG7yAFWelaUydu0D+125CLM=", false},
		{0, 17, s4, d4, 1122, 3344, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", false},
		{0, 17, d4, s4, 3344, 1122, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", false},
		{0, 132, s4, d4, 1122, 3344, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", false},
		{0, 132, d4, s4, 3344, 1122, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", false},
		{0, 1, s4, d4, 8, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", true},
		{0, 1, d4, s4, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", true},
		{0, 1, s4, d4, 11, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=", true},
		{0, 58, s6, d6, 128, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", true},
		{0, 58, d6, s6, 129, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", true},
		{0, 58, s6, d6, 146, 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10=", true},
		{0, 46, s4, d4, 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768=", false},
		{0, 46, d4, s4, 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768=", false},
		{0, 46, s6, d6, 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=", false},
		{0, 46, d6, s6, 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=", false},
		// baseline/README.md, seed=1.
		{1, 6, s4, d4, 1122, 3344, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=", false},
		{1, 6, d4, s4, 3344, 1122, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=", false},
		{1, 17, s4, d4, 1122, 3344, "1:OShq+iKDAMVouh/4bMxB9Sz4amw=", false},
		{1, 132, s4, d4, 1122, 3344, "1:uitchpn5MMGAQKBJh7bIr/bAr7s=", false},
		{1, 1, s4, d4, 8, 0, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=", true},
		{1, 1, d4, s4, 0, 0, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=", true},
		{1, 1, s4, d4, 11, 0, "1:1DD7cWGC/Yg91YGsQeni8du3pIA=", true},
		{1, 58, s6, d6, 128, 0, "1:IO27GQzPuCtNnwFvjWALMHu5tJE=", true},
		{1, 58, d6, s6, 129, 0, "1:IO27GQzPuCtNnwFvjWALMHu5tJE=", true},
		{1, 58, s6, d6, 146, 0, "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s=", true},
		{1, 46, s4, d4, 0, 0, "1:/buhqeOmaRCopOZFy9HnoJd5XW8=", false},
		{1, 46, s6, d6, 0, 0, "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=", false},
		// baseline/baseline_deflt.json (from pcaps/combined.pcap.gz).
		{0, 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 0, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", true},
		{0, 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 0, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", true},
		{0, 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 0, "1:zavyT/cezQr1fmImYCwYnMXbgck=", true},
		{0, 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 0, "1:zavyT/cezQr1fmImYCwYnMXbgck=", true},
		{0, 58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", true},
		{0, 58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4, "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", true},
		{0, 58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 0, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", true},
		{0, 58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 0, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", true},
		{0, 58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 0, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", true},
		{0, 58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 0, "1:pkvHqCL88/tg1k4cPigmZXUtL00=", true},
		{0, 1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", true},
		{0, 1, "192.168.0.1", "192.168.0.89", 0, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", true},
		{0, 1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM=", true},
		{0, 6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", false},
		{0, 6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", false},
		{0, 132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", false},
		{0, 132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", false},
		{0, 6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", false},
		{0, 6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", false},
		{0, 17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", false},
		{0, 17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", false},
		{0, 46, "10.1.12.1", "10.1.12.2", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", false},
		{0, 46, "10.1.12.2", "10.1.12.1", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", false},
		// baseline/baseline_seed1.json.
		{1, 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 0, "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=", true},
		{1, 6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:eJYTW6AOzFLlSUoESovMjnu7rMw=", false},
		{1, 46, "10.1.12.2", "10.1.12.1", 0, 0, "1:rYir8gphR31noO9iDRQmF/BteEI=", false},
	}
}

func TestAppendCommunityID(t *testing.T) {
	for _, tc := range communityIDCases() {
		sport, dport := tc.sport, tc.dport
		if tc.icmpInputs {
			// NetFlow/IPFIX carry ICMP as type<<8|code in the destination port.
			sport, dport = 0, tc.sport<<8|tc.dport
		}
		got := string(AppendCommunityID(nil, tc.seed, netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst), sport, dport, tc.proto))
		if got != tc.want {
			t.Errorf("AppendCommunityID(seed=%d, %s -> %s, %d/%d, proto %d) = %q, want %q",
				tc.seed, tc.src, tc.dst, tc.sport, tc.dport, tc.proto, got, tc.want)
		}
	}
}

func TestAppendCommunityIDNoID(t *testing.T) {
	v4 := netip.MustParseAddr("10.0.0.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		name     string
		src, dst netip.Addr
	}{
		{"invalid src", netip.Addr{}, v4},
		{"invalid dst", v4, netip.Addr{}},
		{"mixed families", v4, v6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendCommunityID([]byte("x"), 0, tc.src, tc.dst, 1, 2, 6)
			if string(got) != "x" {
				t.Fatalf("AppendCommunityID() = %q, want dst unchanged", got)
			}
		})
	}
}

func TestAppendCommunityIDUnmapsV4InV6(t *testing.T) {
	a := string(AppendCommunityID(nil, 0, netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("5.6.7.8"), 1122, 3344, 6))
	b := string(AppendCommunityID(nil, 0, netip.MustParseAddr("::ffff:1.2.3.4"), netip.MustParseAddr("5.6.7.8"), 1122, 3344, 6))
	if a != b || a != "1:wCb3OG7yAFWelaUydu0D+125CLM=" {
		t.Fatalf("AppendCommunityID(4in6) = %q, plain = %q; want both 1:wCb3OG7yAFWelaUydu0D+125CLM=", b, a)
	}
}

func TestAppendCommunityIDAllocs(t *testing.T) {
	src, dst := netip.MustParseAddr("2001:470:e5bf:dead:4957:2174:e82c:4887"), netip.MustParseAddr("2607:f8b0:400c:c03::1a")
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendCommunityID(buf[:0], 0, src, dst, 63943, 25, 6)
	}); n != 0 {
		t.Fatalf("AppendCommunityID allocates %.1f times per call, want 0", n)
	}
}

func BenchmarkAppendCommunityID(b *testing.B) {
	src, dst := netip.MustParseAddr("192.168.1.52"), netip.MustParseAddr("8.8.8.8")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCommunityID(buf[:0], 0, src, dst, 54585, 53, 17)
	}
}
