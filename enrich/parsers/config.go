package parsers

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// Config configures the vendor parsing stage (config keys syslog.parsers.*).
type Config struct {
	// Routes pick a parser for a syslog event by sender address or program
	// (APP-NAME / tag), tried in order; the first route that matches wins.
	Routes []Route `mapstructure:"routes"`
	// Auto tries every parser's detect conditions when no route matched.
	Auto bool `mapstructure:"auto"`
	// PatternDirs are directories of grok pattern files loaded after the
	// embedded ones (a pattern of the same name replaces the embedded one).
	PatternDirs []string `mapstructure:"pattern_dirs"`
	// RuleDirs are directories of parser files (*.yaml, *.yml) loaded after
	// the embedded ones; a parser with the name of an embedded one replaces
	// it.
	RuleDirs []string `mapstructure:"rule_dirs"`
	// KnownListeners are the configured listeners (transport/address);
	// when set, Validate refuses route listeners not among them. Not a
	// key of its own: the caller fills it from syslog.*.listen.
	KnownListeners []string `mapstructure:"-"`
	// Location is the time zone of date steps whose layout carries none and
	// whose rule names no timezone; nil means UTC. It is not a key of its
	// own: sluice passes syslog.timezone.
	Location *time.Location `mapstructure:"-"`
}

// Route sends the events matching all of its non-empty conditions to
// Parser.
type Route struct {
	Parser string `mapstructure:"parser"`
	// Senders are the sender (observer) addresses the route applies to.
	Senders []netip.Prefix `mapstructure:"senders"`
	// Programs are APP-NAMEs (RFC 3164 tags) the route applies to, such as
	// "kernel" or "ASM".
	Programs []string `mapstructure:"programs"`
	// Listeners are the syslog listeners the route applies to:
	// "udp/0.0.0.0:5514", "tcp/...", "tls/..." (transport and the address
	// as written in syslog.*.listen), or the address alone for any
	// transport on it.
	Listeners []string `mapstructure:"listeners"`
	// Index is an index pattern for the events this route picks (e.g.
	// sluice-meraki-%{+yyyy.MM.dd}); it wins over the parser's and rule's.
	Index string `mapstructure:"index"`
}

// Default returns the defaults: no routes, auto-detection on.
func Default() Config {
	return Config{Auto: true}
}

// Validate checks c without reading any rule file; New also fails on a
// route naming a parser that does not exist.
func (c *Config) Validate() error {
	var errs []error
	for i, r := range c.Routes {
		key := fmt.Sprintf("syslog.parsers.routes[%d]", i)
		if r.Parser == "" {
			errs = append(errs, fmt.Errorf("%s.parser: empty; name a parser (meraki, f5_asm, netfilter, cisco_asa, cisco_ios, fortinet, juniper, pfsense, panw, mikrotik, ubiquiti, dnsmasq, bind, unbound or one from syslog.parsers.rule_dirs)", key))
		}
		if len(r.Senders) == 0 && len(r.Programs) == 0 && len(r.Listeners) == 0 {
			errs = append(errs, fmt.Errorf("%s: no senders, programs or listeners; a route needs at least one condition", key))
		}
		for j, p := range r.Senders {
			if !p.IsValid() {
				errs = append(errs, fmt.Errorf("%s.senders[%d]: not an address or CIDR prefix; use forms like 192.0.2.7/32 or 10.0.0.0/8", key, j))
			}
		}
		for j, p := range r.Programs {
			if p == "" {
				errs = append(errs, fmt.Errorf("%s.programs[%d]: empty program name; remove it", key, j))
			}
		}
		for j, l := range r.Listeners {
			if err := c.checkListener(l); err != nil {
				errs = append(errs, fmt.Errorf("%s.listeners[%d]: %w", key, j, err))
			}
		}
		if r.Index != "" {
			if _, err := event.NewIndexNamer(r.Index, time.UTC); err != nil {
				errs = append(errs, fmt.Errorf("%s.index: %w", key, err))
			}
		}
	}
	for i, d := range c.PatternDirs {
		if err := checkDir(d); err != nil {
			errs = append(errs, fmt.Errorf("syslog.parsers.pattern_dirs[%d]: %w", i, err))
		}
	}
	for i, d := range c.RuleDirs {
		if err := checkDir(d); err != nil {
			errs = append(errs, fmt.Errorf("syslog.parsers.rule_dirs[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// checkListener checks a route's listener against KnownListeners.
func (c *Config) checkListener(l string) error {
	if l == "" {
		return errors.New("empty; use transport/address such as udp/0.0.0.0:5514, or the address alone")
	}
	if len(c.KnownListeners) == 0 {
		return nil
	}
	for _, k := range c.KnownListeners {
		if listenerMatches(l, k) {
			return nil
		}
	}
	return fmt.Errorf("%q is not a configured listener; the configured ones are %s (transport/address as in syslog.udp.listen, syslog.tcp.listen, syslog.tls.listen)", l, strings.Join(c.KnownListeners, ", "))
}

// listenerMatches reports whether a route's listener entry names the
// listener id ("udp/0.0.0.0:5514"): the same id, or the same address with
// no transport given.
func listenerMatches(entry, id string) bool {
	if entry == id {
		return true
	}
	if strings.Contains(entry, "/") {
		return false
	}
	_, addr, ok := strings.Cut(id, "/")
	return ok && addr == entry
}

func checkDir(d string) error {
	fi, err := os.Stat(d)
	if err != nil {
		return fmt.Errorf("%q: %w; create it or remove the entry", d, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%q is not a directory", d)
	}
	return nil
}
