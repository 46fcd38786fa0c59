package query

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/sluicelab/sluice/internal/event"
)

// A Path is a field path registered once (NewPath), for what reads the
// same path of every event, such as a rule's filter and query_key: an
// EventDoc answers it without hashing or comparing the path (a code for
// the common flow paths and @timestamp, a table per syslog event layout,
// a memo slot per path for the rest), which a lookup by name cannot.
// The zero Path is no path; a Path past the registry's bound works by its
// name only.
type Path struct {
	Name string
	id   int32 // 1.. in the registry; 0: not registered
	// byName: the path is never read through a syslog layout (@timestamp,
	// tags, ecs.version: written by the encoder outside the tree; the
	// event.ArrayPath paths: only the document has every element).
	byName bool
	// flow is the path's flowFast code (0: none); ts: the path is
	// @timestamp.
	flow int8
	ts   bool
}

// newPath is the Path of a registered name.
func newPath(name string, id int32) Path {
	return Path{Name: name, id: id, byName: name == "@timestamp" || name == "tags" || name == "ecs.version" || event.ArrayPath(name),
		flow: flowFastCodes[name], ts: name == "@timestamp"}
}

// maxRegistered bounds the registry (rule sets and console queries come
// and go; their paths stay registered for the process's life).
const maxRegistered = 4096

var registry struct {
	mu    sync.Mutex
	ids   map[string]int32
	names atomic.Pointer[[]string] // index id; names[0] is ""
}

// NewPath returns the registered Path of name.
func NewPath(name string) Path {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if id, ok := registry.ids[name]; ok {
		return newPath(name, id)
	}
	old := registeredNames()
	if len(old) >= maxRegistered {
		return Path{Name: name}
	}
	if registry.ids == nil {
		registry.ids = map[string]int32{}
		old = []string{""}
	}
	name = strings.Clone(name)
	id := int32(len(old))
	names := append(old[:len(old):len(old)], name)
	registry.ids[name] = id
	registry.names.Store(&names)
	return newPath(name, id)
}

func registeredNames() []string {
	if p := registry.names.Load(); p != nil {
		return *p
	}
	return nil
}

// Values appends the values of p in d (Doc.Values by name for documents
// other than EventDoc).
func (p Path) Values(d Doc, dst []Value) []Value {
	if ed, ok := d.(*EventDoc); ok && p.id > 0 {
		return ed.pathValues(p, dst)
	}
	return d.Values(p.Name, dst)
}

// layoutTable is, per registered path id, where the value of that path
// comes from in the documents of one syslog layout: layoutAbsent,
// layoutOwn or the index of the parsed field.
type layoutTable []int32

const (
	layoutAbsent int32 = -1
	layoutOwn    int32 = -2 // one of sluice's own values, read by name
	// layoutOwnFast-c: own value c of ownFast, read without its name.
	layoutOwnFast int32 = -3
)

// Own syslog values a table entry reads directly (the paths rules and the
// console read most); ownSlow is every other own value, read by name.
const (
	ownSlow int32 = iota
	ownHost
	ownProcName
	ownPriority
	ownSevName
	ownSevCode
	ownObserverIP
	ownSrcIP
	ownDstIP
	ownSrcPort
	ownDstPort
	ownDataset
	ownMessage
	ownDirection
)

var ownFastCodes = map[string]int32{
	"host.hostname": ownHost, "process.name": ownProcName, "log.syslog.priority": ownPriority,
	"log.syslog.severity.name": ownSevName, "log.syslog.severity.code": ownSevCode,
	"observer.ip": ownObserverIP, "source.ip": ownSrcIP, "destination.ip": ownDstIP,
	"source.port": ownSrcPort, "destination.port": ownDstPort, "event.dataset": ownDataset,
	"message": ownMessage, "network.direction": ownDirection,
}

// ownFast appends own value c of a syslog event, as syslogOwn does.
func (d *EventDoc) ownFast(c int32, dst []Value) []Value {
	e := d.e
	sl := &e.Syslog
	hasPri := sl.HasPriority && sl.Priority <= 191
	switch c {
	case ownHost:
		if sl.Hostname != "" {
			dst = d.appendOwnStr(dst, sl.Hostname, validHost)
		}
	case ownProcName:
		if sl.AppName != "" {
			dst = d.appendOwnStr(dst, sl.AppName, validApp)
		}
	case ownPriority:
		if hasPri {
			dst = appendNum(dst, float64(sl.Priority))
		}
	case ownSevName:
		if hasPri {
			dst = appendStr(dst, severityNames[sl.Priority%8])
		}
	case ownSevCode:
		if hasPri {
			dst = appendNum(dst, float64(sl.Priority%8))
		}
	case ownObserverIP:
		if e.Observer.IsValid() {
			dst = appendIP(dst, e.Observer)
		}
	case ownSrcIP:
		if e.Src.IP.IsValid() {
			dst = appendIP(dst, e.Src.IP)
		}
	case ownDstIP:
		if e.Dst.IP.IsValid() {
			dst = appendIP(dst, e.Dst.IP)
		}
	case ownSrcPort:
		if e.Src.Port != 0 {
			dst = appendNum(dst, float64(e.Src.Port))
		}
	case ownDstPort:
		if e.Dst.Port != 0 {
			dst = appendNum(dst, float64(e.Dst.Port))
		}
	case ownDataset:
		if sl.Dataset == "" {
			dst = appendStr(dst, "sluice.syslog")
		} else {
			dst = d.appendOwnStr(dst, sl.Dataset, validDataset)
		}
	case ownMessage:
		if sl.Message != "" {
			dst = d.appendOwnStr(dst, sl.Message, validMessage)
		}
	case ownDirection:
		if s := e.Direction.String(); s != "" {
			dst = appendStr(dst, s)
		}
	}
	return dst
}

// Flow values a Path reads directly (the paths rules read most of flows),
// as flow does by name.
const (
	flowNone int8 = iota
	flowAction
	flowKind
	flowCategory
	flowType
	flowModule
	flowDataset
	flowSrcIP
	flowDstIP
	flowSrcPort
	flowDstPort
	flowTransport
	flowBytes
	flowPackets
	flowObserverIP
)

var flowFastCodes = map[string]int8{
	"event.action": flowAction, "event.kind": flowKind, "event.category": flowCategory, "event.type": flowType,
	"event.module": flowModule, "event.dataset": flowDataset, "source.ip": flowSrcIP, "destination.ip": flowDstIP,
	"source.port": flowSrcPort, "destination.port": flowDstPort, "network.transport": flowTransport,
	"network.bytes": flowBytes, "network.packets": flowPackets, "observer.ip": flowObserverIP,
}

// flowFast appends value c of a flow event, as flow does.
func (d *EventDoc) flowFast(c int8, dst []Value) []Value {
	e := d.e
	f := &e.Flow
	switch c {
	case flowAction:
		return appendStr(dst, "network_flow")
	case flowKind:
		return appendStr(dst, "event")
	case flowCategory:
		return appendStr(dst, "network")
	case flowType:
		return appendStr(dst, "connection")
	case flowModule:
		return appendStr(dst, "sluice")
	case flowDataset:
		return appendStr(dst, "sluice.flow")
	case flowSrcIP:
		if e.Src.IP.IsValid() {
			dst = appendIP(dst, e.Src.IP)
		}
	case flowDstIP:
		if e.Dst.IP.IsValid() {
			dst = appendIP(dst, e.Dst.IP)
		}
	case flowSrcPort, flowDstPort:
		port := e.Src.Port
		if c == flowDstPort {
			port = e.Dst.Port
		}
		if ports := flowPorts(f); (port != 0 && ports != portsNever) || ports == portsAlways {
			dst = appendNum(dst, float64(port))
		}
	case flowTransport:
		if f.HasProtocol {
			if n := event.TransportName(f.Protocol); n != "" {
				dst = appendStr(dst, n)
			}
		}
	case flowBytes:
		if f.Bytes != 0 || f.HasBytes {
			dst = appendNum(dst, float64(f.Bytes))
		}
	case flowPackets:
		if f.Packets != 0 || f.HasPackets {
			dst = appendNum(dst, float64(f.Packets))
		}
	case flowObserverIP:
		if e.Observer.IsValid() {
			dst = appendIP(dst, e.Observer)
		}
	}
	return dst
}

// Bits of EventDoc.valid: own strings found valid UTF-8 for this event
// (rules read the hostname for a query_key and again for a guard).
const (
	validHost uint8 = 1 << iota
	validApp
	validDataset
	validMessage
)

// appendOwnStr is appendStr for own string s, remembering that it is
// valid UTF-8 as bit.
func (d *EventDoc) appendOwnStr(dst []Value, s string, bit uint8) []Value {
	if d.valid&bit != 0 {
		return appendStr(dst, s)
	}
	if utf8.ValidString(s) {
		d.valid |= bit
		return appendStr(dst, s)
	}
	return append(dst, d.str(s))
}

// layoutSource returns where path p's value comes from in the event's
// layout, building the layout's table when it does not cover p yet.
func (d *EventDoc) layoutSource(l *event.SyslogLayout, p Path) int32 {
	if tt := d.table; int(p.id) < len(tt) {
		return tt[p.id]
	}
	slot := l.ReaderTable()
	if t := slot.Load(); t != nil {
		if tt := *t.(*layoutTable); int(p.id) < len(tt) {
			d.table = tt
			return tt[p.id]
		}
	}
	names := registeredNames()
	tt := make(layoutTable, len(names))
	for i, name := range names {
		field, own, ok := l.Source(name)
		switch {
		case !ok || i == 0:
			tt[i] = layoutAbsent
		case own:
			tt[i] = layoutOwn
			if c, ok := ownFastCodes[name]; ok {
				tt[i] = layoutOwnFast - c
			}
		default:
			tt[i] = int32(field)
		}
	}
	slot.Store(&tt)
	d.table = tt
	if int(p.id) < len(tt) {
		return tt[p.id]
	}
	return layoutAbsent // registered after names was read: never, under one registry
}

// pathValues is Values for a registered path: memoized per event by its
// id, and for encoded syslog events read through the layout's table.
//
// The values read straight from the event (a flow's, a syslog event's own
// values and parsed fields through its layout, @timestamp) are not
// memoized: reading them again costs less than keeping a copy.
func (d *EventDoc) pathValues(p Path, dst []Value) []Value {
	e := d.e
	switch {
	case e == nil:
		return dst
	case p.ts:
		if !e.Timestamp.IsZero() {
			dst = appendTimeValue(dst, e.Timestamp)
		}
		return dst
	case p.flow != flowNone && e.Kind == event.KindFlow:
		return d.flowFast(p.flow, dst)
	case !p.byName && e.Kind == event.KindSyslog && e.SyslogLayout() != nil:
		switch src := d.layoutSource(e.SyslogLayout(), p); {
		case src < layoutOwn:
			return d.ownFast(layoutOwnFast-src, dst)
		case src == layoutAbsent:
			return dst
		case src >= 0 && int(src) < len(e.Fields):
			return d.field(&e.Fields[src], dst)
		}
	}
	if int(p.id) >= len(d.slots) {
		d.slots = append(d.slots, make([]slotMemo, int(p.id)+1-len(d.slots))...)
	}
	m := &d.slots[p.id]
	if m.gen == d.gen {
		return append(dst, d.mvals[m.start:m.end]...)
	}
	start := len(dst)
	switch {
	case e == nil:
	case !p.byName && e.Kind == event.KindSyslog && e.SyslogLayout() != nil:
		switch src := d.layoutSource(e.SyslogLayout(), p); {
		case src < layoutOwn:
			dst = d.ownFast(layoutOwnFast-src, dst)
		case src == layoutOwn:
			root, rest := cut(p.Name)
			dst = d.syslogOwn(p.Name, root, rest, dst)
		case src >= 0 && int(src) < len(e.Fields):
			dst = d.field(&e.Fields[src], dst)
		}
	default:
		dst = d.values(p.Name, dst)
	}
	if len(dst)-start <= 16 {
		s := len(d.mvals)
		d.mvals = append(d.mvals, dst[start:]...)
		*m = slotMemo{gen: d.gen, start: int32(s), end: int32(len(d.mvals))}
	}
	return dst
}

type slotMemo struct {
	gen        uint32
	start, end int32
}

// FlowConstant reports whether every flow event has the same values at p
// (event.action, event.kind, event.category, event.type, event.module,
// event.dataset): a rule engine can work out once what such a path
// selects among flows.
func (p Path) FlowConstant() bool {
	switch p.flow {
	case flowAction, flowKind, flowCategory, flowType, flowModule, flowDataset:
		return true
	}
	return false
}

// IsFlow reports whether d reads a flow event.
func (d *EventDoc) IsFlow() bool { return d.e != nil && d.e.Kind == event.KindFlow }

// FlowConstant reports whether m, one of this package's matchers, gives
// the same result for every flow event read through an EventDoc: it
// reads only paths whose values all flows share (Path.FlowConstant), and
// compares them without a clock (no ranges, whose date math reads now).
// A rule engine then evaluates m once for all flows (on any flow event).
func FlowConstant(m Matcher) bool {
	c, ok := m.(*compiled)
	return ok && flowConstNode(c.root)
}

func flowConstNode(n node) bool {
	switch n := n.(type) {
	case allNode, noneNode:
		return true
	case andNode:
		return allFlowConst(n)
	case orNode:
		return allFlowConst(n)
	case notNode:
		return flowConstNode(n.x)
	case atLeastNode:
		return allFlowConst(n.xs)
	case existsNode:
		return n.p.id > 0 && n.p.FlowConstant()
	case *leaf:
		if n.paths == nil {
			return false // every field: flows differ
		}
		for _, p := range n.ps {
			if p.id == 0 || !p.FlowConstant() {
				return false
			}
		}
		switch n.p.(type) {
		case *termPred, *ciTermPred, *wildcardPred, *prefixPred, *regexpPred:
			return true
		}
	}
	return false
}

func allFlowConst(ns []node) bool {
	for _, x := range ns {
		if !flowConstNode(x) {
			return false
		}
	}
	return true
}
