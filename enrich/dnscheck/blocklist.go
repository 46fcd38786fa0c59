package dnscheck

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"
)

// maxListLine bounds one line of a blocklist file; longer lines are
// skipped.
const maxListLine = 4096

// lists is one loaded generation of every blocklist, read-only once built
// (swapped whole on reload).
type lists struct {
	names    []string       // list names, by index
	domains  map[string]int // name -> index of the first list holding it
	addrs    map[netip.Addr]int
	prefixes []listPrefix
	stamps   []fileStamp // what each file looked like when read
	counts   []int       // entries per list
}

type listPrefix struct {
	p    netip.Prefix
	list int
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// matchName returns the list holding name or one of its parent domains
// (the name itself first), and the entry that matched.
func (l *lists) matchName(name string) (int, string, bool) {
	if len(l.domains) == 0 {
		return 0, "", false
	}
	for s := name; s != ""; {
		if i, ok := l.domains[s]; ok {
			return i, s, true
		}
		dot := strings.IndexByte(s, '.')
		if dot < 0 {
			break
		}
		s = s[dot+1:]
	}
	return 0, "", false
}

// matchAddr returns the list holding a.
func (l *lists) matchAddr(a netip.Addr) (int, bool) {
	a = a.Unmap()
	if i, ok := l.addrs[a]; ok {
		return i, true
	}
	for _, p := range l.prefixes {
		if p.p.Contains(a) {
			return p.list, true
		}
	}
	return 0, false
}

// loadLists reads every list. A list that cannot be read is an error
// naming its key.
func loadLists(cfg []Blocklist) (*lists, error) {
	l := &lists{domains: map[string]int{}, addrs: map[netip.Addr]int{}}
	for i, b := range cfg {
		l.names = append(l.names, b.Name)
		f, err := os.Open(b.Path)
		if err != nil {
			return nil, fmt.Errorf("dns.blocklists[%d] (%s): %w", i, b.Name, err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("dns.blocklists[%d] (%s): %w", i, b.Name, err)
		}
		n, err := l.read(f, i, b.Format)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("dns.blocklists[%d] (%s) %s: %w", i, b.Name, b.Path, err)
		}
		l.stamps = append(l.stamps, fileStamp{st.ModTime(), st.Size()})
		l.counts = append(l.counts, n)
	}
	return l, nil
}

// read adds the entries of one list file; it returns how many it read.
// Lines it does not understand are skipped: lists mix comments and
// formats.
func (l *lists) read(r io.Reader, list int, format string) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxListLine)
	n := 0
	for {
		if !sc.Scan() {
			if err := sc.Err(); err == bufio.ErrTooLong {
				// Skip the rest of the long line and go on.
				sc = bufio.NewScanner(r)
				sc.Buffer(make([]byte, 0, 64<<10), maxListLine)
				continue
			} else if err != nil {
				return n, err
			}
			return n, nil
		}
		for _, entry := range parseListLine(sc.Text(), format) {
			if l.add(entry, list) {
				n++
			}
		}
	}
}

// parseListLine returns the entries of one line.
func parseListLine(line, format string) []string {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' || line[0] == '!' {
		return nil
	}
	switch format {
	case "hosts":
		// "0.0.0.0 ads.example tracker.example # comment"
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil
		}
		return f[1:]
	case "adblock":
		// "||ads.example^" and "||ads.example^$third-party"; exceptions
		// (@@), paths and element rules are not domain entries.
		rest, ok := strings.CutPrefix(line, "||")
		if !ok {
			return nil
		}
		end := strings.IndexAny(rest, "^$/|*")
		if end < 0 {
			return []string{rest}
		}
		if rest[end] == '/' || rest[end] == '*' {
			return nil
		}
		return []string{rest[:end]}
	default: // plain: a name, an address or a CIDR a line
		if i := strings.IndexAny(line, " \t#"); i >= 0 {
			line = line[:i]
		}
		return []string{line}
	}
}

// add adds one entry (a name, an address or a CIDR) if it is valid and
// not in an earlier list.
func (l *lists) add(e string, list int) bool {
	if a, err := netip.ParseAddr(e); err == nil {
		a = a.Unmap()
		if _, ok := l.addrs[a]; !ok {
			l.addrs[a] = list
		}
		return true
	}
	if strings.IndexByte(e, '/') >= 0 {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return false
		}
		l.prefixes = append(l.prefixes, listPrefix{p.Masked(), list})
		return true
	}
	// Entries for every host ("localhost" and the like in hosts files)
	// and things that are not names are skipped.
	switch e {
	case "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost", "ip6-loopback", "0.0.0.0":
		return false
	}
	d, err := NormalizeDomain(e)
	if err != nil || strings.IndexByte(d, '.') < 0 {
		return false
	}
	if _, ok := l.domains[d]; !ok {
		l.domains[d] = list
	}
	return true
}

// changed reports whether any list file differs from when l was read.
func (l *lists) changed(cfg []Blocklist) bool {
	for i, b := range cfg {
		st, err := os.Stat(b.Path)
		if err != nil {
			continue // gone for now (being replaced): keep what we have
		}
		if i >= len(l.stamps) || !st.ModTime().Equal(l.stamps[i].mod) || st.Size() != l.stamps[i].size {
			return true
		}
	}
	return false
}
