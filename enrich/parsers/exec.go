package parsers

import (
	"strings"
	"time"
	"unsafe"

	"github.com/sluicelab/sluice/enrich/grok"
	"github.com/sluicelab/sluice/enrich/kv"
	"github.com/sluicelab/sluice/internal/event"
	"github.com/sluicelab/sluice/internal/rare"
)

// vtype is the type a field is written with.
type vtype uint8

const (
	tAuto   vtype = iota // by the path: *.ip address, *.port port, *.mac MAC, else string
	tString              // string as extracted
	tInt                 // integer (left out when the value is not one)
	tFloat               // number (left out when the value is not one)
	tBool                // true/false, 1/0 (left out otherwise)
	tIP                  // address (left out when the value is not one)
	tMAC                 // MAC address (kept as a string when the value is not one)
	tTime                // num holds Unix nanoseconds
	tLower               // convert only: lower-case the value, keep the type
	tPort                // what tAuto means for *.port
	tIPPort              // address and port without brackets ("2001:db8::1:443"): the last colon separates the port
	tDur                 // convert and kv only: seconds ("30", "1.5") or h:mm:ss to integer nanoseconds
)

// value is a typed constant of a rule file (set, map).
type value struct {
	s      string
	typ    vtype
	num    uint64
	hasNum bool
}

// sfield is one field while an event is parsed: steps add, change and
// remove them; commit turns the live ones into event slots and Fields.
type sfield struct {
	key    string
	val    string // points into the message, the batch arena or the rules
	num    uint64
	sym    int32 // the rule's symbol for key, or -1 (a kv key no step names)
	typ    vtype
	hasNum bool
	dead   bool
}

// symMessage is the symbol of the syslog message ("" or "message" in a
// rule file).
const symMessage = -2

// symAppName is the symbol of the syslog APP-NAME, which a step reads
// with source: process.name (Cisco ASA's "%ASA-6-302013" lands there when
// no colon follows the timestamp). Like the message it cannot be written.
const symAppName = -3

// appNameSource is the path the compiler gives a source of process.name:
// no rule file can write it (checkPath refuses the NUL byte), so a step
// that writes process.name still writes an ordinary field.
const appNameSource = "\x00process.name"

// symMsgID is the symbol of the RFC 5424 MSGID (Junos's
// "RT_FLOW_SESSION_CLOSE"), which a step reads with source:
// log.syslog.msgid; it cannot be written either.
const symMsgID = -4

// msgIDSource is the path the compiler gives a source of
// log.syslog.msgid (see appNameSource).
const msgIDSource = "\x00log.syslog.msgid"

// commit kinds: where a field goes.
type kind uint8

const (
	kField kind = iota // e.Fields, typed by the field's vtype
	kTemp              // _name: not written
	kSrcIP
	kDstIP
	kSrcPort
	kDstPort
	kSrcBytes
	kSrcPackets
	kDstBytes
	kDstPackets
	kTransport
	kIana
)

func kindOf(path string) kind {
	switch path {
	case "source.ip":
		return kSrcIP
	case "destination.ip":
		return kDstIP
	case "source.port":
		return kSrcPort
	case "destination.port":
		return kDstPort
	case "source.bytes":
		return kSrcBytes
	case "source.packets":
		return kSrcPackets
	case "destination.bytes":
		return kDstBytes
	case "destination.packets":
		return kDstPackets
	case "network.transport":
		return kTransport
	case "network.iana_number":
		return kIana
	}
	if path != "" && path[0] == '_' {
		return kTemp
	}
	return kField
}

// cond is a detect or when condition: every non-empty part must hold.
type cond struct {
	apps     []string // the APP-NAME is one of these
	prefixes []string // the message starts with one of these
	contains []string // the message contains all of these
	rare     []int    // rare[i]: the index of contains[i]'s rarest byte (rare.Index)
	// or the APP-NAME starts with one of these (detect's "%ASA-*")
	appPrefixes []string
}

func (c *cond) empty() bool {
	return len(c.apps) == 0 && len(c.appPrefixes) == 0 && len(c.prefixes) == 0 && len(c.contains) == 0
}

// onApp reports whether c names app names.
func (c *cond) onApp() bool { return len(c.apps) > 0 || len(c.appPrefixes) > 0 }

func (c *cond) match(app, msg string) bool {
	if c.onApp() && !contains(c.apps, app) && !hasPrefix(c.appPrefixes, app) {
		return false
	}
	return c.matchMessage(msg)
}

func (c *cond) matchMessage(msg string) bool {
	if len(c.prefixes) > 0 {
		ok := false
		for _, p := range c.prefixes {
			if strings.HasPrefix(msg, p) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for i, s := range c.contains {
		if rare.Index(msg, s, c.rare[i]) < 0 {
			return false
		}
	}
	return true
}

func hasPrefix(prefixes []string, s string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// parser is one compiled parser file.
type parser struct {
	name     string
	indexRef event.IndexRef // the parser's own index (0: the syslog default)
	detect   []cond
	rules    []*rule
	// byApp lists, for each app name some rule's when names, the rules
	// that can apply to it in order; anyApp the rules for other app names.
	byApp   map[string][]int
	anyApp  []int
	failCtr int
}

func (p *parser) index() {
	p.byApp = map[string][]int{}
	for i, r := range p.rules {
		if len(r.when.apps) == 0 {
			p.anyApp = append(p.anyApp, i)
		}
	}
	for _, r := range p.rules {
		for _, a := range r.when.apps {
			if _, ok := p.byApp[a]; ok {
				continue
			}
			var list []int
			for j, r2 := range p.rules {
				if len(r2.when.apps) == 0 || contains(r2.when.apps, a) {
					list = append(list, j)
				}
			}
			p.byApp[a] = list
		}
	}
}

// rule is one entry of a parser's rules.
type rule struct {
	name string
	// unconverted prefixes the path of a value that did not convert to
	// its field's type ("<parser>.unconverted."): it is kept there as
	// text and the event tagged, not dropped.
	unconverted string
	when        cond
	dataset     string
	indexRef    event.IndexRef    // the rule's own index (0: the parser's)
	byApp       map[string]string // dataset per app name when it uses {appname}
	steps       []step
	ctr         int            // counter index (static dataset)
	ctrApp      map[string]int // counter index per app name

	// Every path the rule's steps name is a symbol, resolved when the
	// rule is compiled, so that steps find fields by index.
	syms     map[string]int32
	symNames []string
	symKind  []kind
	symAuto  []vtype // the vtype tAuto stands for
	// used[sym]: a step reads, changes or replaces sym. direct[sym]: sym
	// is only ever added (by kv or csv steps, or captured by the grok
	// step, see putDirect), so it goes to the event at once instead of
	// the scratch list.
	used, direct []bool
	// directField[sym]: direct, and a plain field (not an endpoint or
	// protocol slot): kv steps hand its values to commitField at once.
	directField []bool
	noDirect    bool // a remove step with a prefix: everything is kept
	// putDirect[sym]: direct, and a capture name of the rule's grok step
	// (one that each pattern captures at most once) or a path of its set
	// step, that no other step names: the step commits it to the event at
	// once (a put into the scratch list would add it there, the same).
	putDirect []bool
	putCand   []bool // a grok capture name or set path that may be direct
	// writer[sym] is the id of the step that first named sym (1 + the
	// order of its resolve call within a pass), shared[sym] says another
	// step named it too.
	writer   []int32
	shared   []bool
	resolved int32 // resolve calls so far in this pass
	cur      int32 // the id of the step being resolved
}

// sym returns the symbol of a path a step reads or changes, adding it.
func (r *rule) sym(path string) int32 {
	i := r.out(path)
	if i >= 0 {
		r.used[i] = true
	}
	return i
}

// out returns the symbol of a path a kv step adds, adding it.
func (r *rule) out(path string) int32 {
	if path == "" || path == "message" {
		return symMessage
	}
	if path == appNameSource {
		return symAppName
	}
	if path == msgIDSource {
		return symMsgID
	}
	if i, ok := r.syms[path]; ok {
		r.wrote(i)
		return i
	}
	if r.syms == nil {
		r.syms = map[string]int32{}
	}
	i := int32(len(r.symNames))
	r.syms[path] = i
	r.symNames = append(r.symNames, path)
	r.symKind = append(r.symKind, kindOf(path))
	r.symAuto = append(r.symAuto, autoType(path))
	r.used = append(r.used, false)
	r.writer = append(r.writer, 0)
	r.shared = append(r.shared, false)
	r.putCand = append(r.putCand, false)
	r.wrote(i)
	return i
}

// wrote records that the step being resolved names sym.
func (r *rule) wrote(sym int32) {
	switch w := r.writer[sym]; {
	case w == 0:
		r.writer[sym] = r.cur
	case w != r.cur:
		r.shared[sym] = true
	}
}

// finish computes direct after the steps are resolved.
func (r *rule) finish() {
	r.direct = make([]bool, len(r.symNames))
	r.directField = make([]bool, len(r.symNames))
	r.putDirect = make([]bool, len(r.symNames))
	for i := range r.used {
		if r.putCand[i] && r.shared[i] {
			// Another step names it: the grok or set step replaces
			// (put), as for any path a step reads or changes.
			r.used[i] = true
		}
	}
	for i, u := range r.used {
		r.direct[i] = !u && !r.noDirect
		r.directField[i] = r.direct[i] && r.symKind[i] == kField
		r.putDirect[i] = r.direct[i] && r.putCand[i]
	}
}

func (r *rule) datasetFor(app string) (string, int) {
	if r.byApp == nil {
		return r.dataset, r.ctr
	}
	return r.byApp[app], r.ctrApp[app]
}

// step is one operation of a rule. run reports false when the rule does not
// apply to the event (a required part is missing): the next rule is tried.
type step interface {
	run(st *state) bool
	// resolve turns the step's paths into r's symbols.
	resolve(r *rule)
}

type multiStep []step

func (m multiStep) run(st *state) bool {
	for _, s := range m {
		if !s.run(st) {
			return false
		}
	}
	return true
}

func (m multiStep) resolve(r *rule) {
	for _, s := range m {
		r.resolved++
		r.cur = r.resolved
		s.resolve(r)
	}
}

// state is one worker's scratch space; it lives for one Process call.
type state struct {
	b      *event.Batch
	e      *event.Event
	msg    string
	r      *rule
	fields []sfield
	// idx[sym] is 1 + the index of the first live field of sym, 0 when
	// there is none; multi[sym] says more than one was added.
	idx     []int32
	multi   []bool
	grok    *grokStep // the grok step whose set is matching (grokCapture)
	buf     []byte
	keys    []keyCache // per kvStep id: the keys it has seen
	ts      time.Time
	hasTS   bool
	counts  []uint64 // per metrics counter, added to it after the batch
	touched []int    // the counters with counts
	used    int      // high-water mark of fields, cleared after the batch

	grokEmit func(grok.Capture)
	kvBare   []byte    // the bare words of a kv step, joined by spaces
	spans    []kv.Span // a kv step's batch of pairs
	cefSpans []kv.Span // the pairs of a CEF extension
}

func newState(counters int) *state {
	st := &state{counts: make([]uint64, counters), fields: make([]sfield, 0, 64), spans: make([]kv.Span, 0, 64)}
	st.grokEmit = func(c grok.Capture) { st.grokCapture(&c) }
	return st
}

func (st *state) count(i int) {
	if st.counts[i] == 0 {
		st.touched = append(st.touched, i)
	}
	st.counts[i]++
}

// begin prepares st for trying rule r.
func (st *state) begin(r *rule) {
	n := len(r.symNames)
	if cap(st.idx) < n {
		st.idx = make([]int32, n)
		st.multi = make([]bool, n)
	}
	st.idx, st.multi = st.idx[:n], st.multi[:n]
	clear(st.idx)
	clear(st.multi)
	st.used = max(st.used, len(st.fields))
	st.r, st.fields, st.hasTS = r, st.fields[:0], false
}

// bstr returns b as a string sharing its memory. Only used on bytes that
// are never written again: the message (batch arena or a Go string) and
// arena copies.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// sbytes returns the bytes of s without copying; they must not be written.
func sbytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// keep copies p into the batch arena and returns it as a string.
func (st *state) keep(p []byte) string {
	return bstr(st.b.Bytes(p))
}

// get returns the value of the first live field of sym.
func (st *state) get(sym int32) (string, bool) {
	switch sym {
	case symMessage:
		return st.msg, true
	case symAppName:
		return st.e.Syslog.AppName, st.e.Syslog.AppName != ""
	case symMsgID:
		return st.e.Syslog.MsgID, st.e.Syslog.MsgID != ""
	}
	if i := st.idx[sym]; i != 0 {
		return st.fields[i-1].val, true
	}
	return "", false
}

// add appends a field; sym is -1 for a name no step refers to.
func (st *state) add(sym int32, key, val string, typ vtype) {
	st.fields = append(st.fields, sfield{key: key, val: val, sym: sym, typ: typ})
	if sym >= 0 {
		if st.idx[sym] == 0 {
			st.idx[sym] = int32(len(st.fields))
		} else {
			st.multi[sym] = true
		}
	}
}

// put sets sym to f, replacing its live fields. The message and the app
// name are the decoder's: writes to them are ignored.
func (st *state) put(sym int32, f sfield) {
	if sym < 0 {
		return
	}
	f.sym, f.key = sym, st.r.symNames[sym]
	if i := st.idx[sym]; i != 0 {
		st.fields[i-1] = f
		if st.multi[sym] {
			st.killFrom(sym, int(i))
		}
		return
	}
	st.fields = append(st.fields, f)
	st.idx[sym] = int32(len(st.fields))
}

func (st *state) putConst(sym int32, v value) {
	st.put(sym, sfield{val: v.s, typ: v.typ, num: v.num, hasNum: v.hasNum})
}

// kill removes the live fields of sym.
func (st *state) kill(sym int32) {
	if sym < 0 {
		return
	}
	i := st.idx[sym]
	if i == 0 {
		return
	}
	st.fields[i-1].dead = true
	if st.multi[sym] {
		st.killFrom(sym, int(i))
	}
	st.idx[sym], st.multi[sym] = 0, false
}

func (st *state) killFrom(sym int32, from int) {
	for j := from; j < len(st.fields); j++ {
		if g := &st.fields[j]; g.sym == sym {
			g.dead = true
		}
	}
}

// each calls fn for every live field of sym.
func (st *state) each(sym int32, fn func(f *sfield)) {
	if sym < 0 {
		return
	}
	i := st.idx[sym]
	if i == 0 {
		return
	}
	fn(&st.fields[i-1])
	if st.multi[sym] {
		for j := int(i); j < len(st.fields); j++ {
			if g := &st.fields[j]; g.sym == sym && !g.dead {
				fn(g)
			}
		}
	}
}

// commit writes the live fields of a successful rule into the event:
// source and destination addresses, ports and counters and the protocol
// go to the typed slots (so enrichment and the encoder see them), the rest
// to e.Fields. Fields whose name starts with _ are temporary and left out.
func (st *state) commit() {
	for i := range st.fields {
		if f := &st.fields[i]; !f.dead {
			st.commitValue(f.sym, f.key, f.val, f.typ, f.num, f.hasNum)
		}
	}
	if st.hasTS {
		st.e.Timestamp = st.ts.UTC()
		st.e.Tags &^= event.TagTimeFromReceive
	}
}

// commitValue writes one field to the event (see commit).
func (st *state) commitValue(sym int32, key, val string, typ vtype, num uint64, hasNum bool) {
	e := st.e
	var k kind
	var auto vtype
	if sym >= 0 {
		k, auto = st.r.symKind[sym], st.r.symAuto[sym]
	} else {
		k, auto = kindOf(key), autoType(key)
	}
	ok := true
	switch k {
	case kField:
		if typ == tAuto {
			typ = auto
		}
		ok = st.commitField(e, key, val, typ, num, hasNum)
	case kTemp:
	case kSrcIP:
		ok = endpointIP(&e.Src, val, typ)
	case kDstIP:
		ok = endpointIP(&e.Dst, val, typ)
	case kSrcPort:
		ok = endpointPort(&e.Src, val, num, hasNum)
	case kDstPort:
		ok = endpointPort(&e.Dst, val, num, hasNum)
	case kSrcBytes:
		ok = counter(&e.Src.Bytes, val, num, hasNum)
	case kSrcPackets:
		ok = counter(&e.Src.Packets, val, num, hasNum)
	case kDstBytes:
		ok = counter(&e.Dst.Bytes, val, num, hasNum)
	case kDstPackets:
		ok = counter(&e.Dst.Packets, val, num, hasNum)
	case kTransport:
		if p, ok := protoNumber(val); ok {
			if !e.Flow.HasProtocol {
				e.Flow.Protocol, e.Flow.HasProtocol = p, true
			}
		} else if val != "" {
			e.AddString(key, st.lower(val))
		}
	case kIana:
		var n uint64
		if n, ok = parseUint(val, 255); ok && !e.Flow.HasProtocol {
			e.Flow.Protocol, e.Flow.HasProtocol = uint8(n), true
		}
	}
	if !ok && k != kField { // commitField keeps its own
		st.unconvertible(e, key, val)
	}
}

// unconvertible keeps a value that is not of its field's type (a port
// "notaport") as text under the parser's name, and tags the event.
func (st *state) unconvertible(e *event.Event, key, val string) {
	if val == "" || st.r == nil || st.r.unconverted == "" {
		return
	}
	st.buf = append(append(st.buf[:0], st.r.unconverted...), key...)
	b := st.b.Bytes(st.buf)
	e.Fields = append(e.Fields, event.Field{Key: unsafe.String(&b[0], len(b)), Type: event.FieldString, S: val})
	e.Tags |= event.TagConversionFailure
}

// snapshot is what a rule may have changed in the event before it failed.
type snapshot struct {
	fields   int
	src, dst event.Endpoint
	proto    uint8
	hasProto bool
	tags     event.Tags
}

func (st *state) snapshot() snapshot {
	e := st.e
	return snapshot{fields: len(e.Fields), src: e.Src, dst: e.Dst, proto: e.Flow.Protocol, hasProto: e.Flow.HasProtocol, tags: e.Tags}
}

// rollback undoes what a failed rule committed directly.
func (st *state) rollback(s snapshot) {
	e := st.e
	clear(e.Fields[s.fields:])
	e.Fields = e.Fields[:s.fields]
	e.Src, e.Dst, e.Flow.Protocol, e.Flow.HasProtocol = s.src, s.dst, s.proto, s.hasProto
	e.Tags = s.tags
}

// commitField appends the field; false when val does not convert to typ:
// then the value is kept as text under the parser's name (unconvertible).
func (st *state) commitField(e *event.Event, key, val string, typ vtype, num uint64, hasNum bool) bool {
	if st.commitTyped(e, key, val, typ, num, hasNum) {
		return true
	}
	st.unconvertible(e, key, val)
	return false
}

// commitTyped is commitField without keeping what does not convert.
func (st *state) commitTyped(e *event.Event, key, val string, typ vtype, num uint64, hasNum bool) bool {
	// Strings and numbers are written in place (event.AddString,
	// AddNumber), the rarer types through a Field value.
	switch typ {
	case tString:
		if val != "" {
			e.AddString(key, val)
		}
		return true
	case tInt:
		if hasNum {
			e.AddNumber(key, event.FieldInt, num)
		} else if n, ok := parseInt(val); ok {
			e.AddNumber(key, event.FieldInt, uint64(n))
		} else {
			return false
		}
		return true
	case tFloat:
		if hasNum {
			e.AddNumber(key, event.FieldFloat, num)
		} else if x, ok := parseFloat(val); ok {
			e.AddNumber(key, event.FieldFloat, floatBits(x))
		} else {
			return false
		}
		return true
	case tBool:
		switch {
		case hasNum:
			e.AddNumber(key, event.FieldBool, num)
		case val == "1" || strings.EqualFold(val, "true") || strings.EqualFold(val, "yes"):
			e.AddNumber(key, event.FieldBool, 1)
		case val == "0" || strings.EqualFold(val, "false") || strings.EqualFold(val, "no"):
			e.AddNumber(key, event.FieldBool, 0)
		default:
			return false
		}
		return true
	case tPort:
		n, ok := parseUint(val, 65535)
		if !ok {
			return false
		}
		e.AddNumber(key, event.FieldUint, n)
		return true
	case tDur: // a csv column's type (kv and convert convert it themselves)
		n, ok := parseDuration(val)
		if !ok {
			return false
		}
		e.AddNumber(key, event.FieldInt, uint64(n))
		return true
	case tTime:
		e.AddNumber(key, event.FieldTime, num)
		return true
	}
	out := event.Field{Key: key}
	switch typ {
	case tIP, tIPPort:
		ip, _, ok := addrOf(val, typ)
		if !ok {
			return false
		}
		out.Type, out.IP = event.FieldIP, ip
	case tMAC:
		if m, ok := parseMAC(val); ok {
			out.Type, out.B = event.FieldMAC, st.b.Bytes(m[:])
		} else {
			out.Type, out.S = event.FieldString, val
		}
	default:
		if val != "" {
			e.AddString(key, val)
		}
		return true
	}
	e.Fields = append(e.Fields, out)
	return true
}

func autoType(key string) vtype {
	switch {
	case strings.HasSuffix(key, ".ip"):
		return tIP
	case strings.HasSuffix(key, ".port"):
		return tPort
	case strings.HasSuffix(key, ".mac"):
		return tMAC
	}
	return tString
}

// endpointIP sets the endpoint's address (and port, from "ip:port") if
// it has none yet; false when v is no address.
func endpointIP(ep *event.Endpoint, v string, typ vtype) bool {
	if ep.IP.IsValid() {
		return true
	}
	ip, port, ok := addrOf(v, typ)
	if !ok {
		return false
	}
	ep.IP = ip
	if port != 0 && ep.Port == 0 {
		ep.Port = port
	}
	return true
}

// endpointPort sets the endpoint's port if it has none yet; false when
// the value is no port.
func endpointPort(ep *event.Endpoint, val string, num uint64, hasNum bool) bool {
	if ep.Port != 0 {
		return true
	}
	if hasNum {
		if num > 0 && num <= 65535 {
			ep.Port = uint16(num)
			return true
		}
		return num == 0
	}
	n, ok := parseUint(val, 65535)
	if ok {
		ep.Port = uint16(n)
	}
	return ok
}

// counter sets a byte or packet counter if it is still 0; false when the
// value is no count.
func counter(dst *uint64, val string, num uint64, hasNum bool) bool {
	if *dst != 0 {
		return true
	}
	if hasNum {
		*dst = num
		return true
	}
	n, ok := parseUint(val, 1<<63)
	if ok {
		*dst = n
	}
	return ok
}
