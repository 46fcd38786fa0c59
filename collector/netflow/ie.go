package netflow

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ieType is the abstract data type of an information element, as in the
// IANA registry (RFC 7012 §3.1), folded to what the decoder distinguishes.
type ieType uint8

const (
	tUnsigned ieType = iota
	tSigned
	tFloat
	tAddr4
	tAddr6
	tMAC
	tString
	tOctets
	tSeconds // dateTimeSeconds
	tMillis  // dateTimeMilliseconds
	tMicros  // dateTimeMicroseconds (NTP format)
	tNanos   // dateTimeNanoseconds (NTP format)
	tBool
)

// ieInfo describes one IANA information element.
type ieInfo struct {
	name string // snake_case key written under netflow.*
	typ  ieType
}

// maxIE bounds the dense table; IEs above it are unknown and written as ie_<id>.
const maxIE = 512

// ieTable is indexed by IE number; a zero name means not in the table.
var ieTable = buildIETable()

// ianaElements lists the IANA IPFIX information elements (names as registered)
// that exporters are known to send. IDs 0-127 are shared with NetFlow v9.
var ianaElements = []struct {
	id   uint16
	name string
	typ  ieType
}{
	{1, "octetDeltaCount", tUnsigned}, {2, "packetDeltaCount", tUnsigned}, {3, "deltaFlowCount", tUnsigned},
	{4, "protocolIdentifier", tUnsigned}, {5, "ipClassOfService", tUnsigned}, {6, "tcpControlBits", tUnsigned},
	{7, "sourceTransportPort", tUnsigned}, {8, "sourceIPv4Address", tAddr4}, {9, "sourceIPv4PrefixLength", tUnsigned},
	{10, "ingressInterface", tUnsigned}, {11, "destinationTransportPort", tUnsigned}, {12, "destinationIPv4Address", tAddr4},
	{13, "destinationIPv4PrefixLength", tUnsigned}, {14, "egressInterface", tUnsigned}, {15, "ipNextHopIPv4Address", tAddr4},
	{16, "bgpSourceAsNumber", tUnsigned}, {17, "bgpDestinationAsNumber", tUnsigned}, {18, "bgpNextHopIPv4Address", tAddr4},
	{19, "postMCastPacketDeltaCount", tUnsigned}, {20, "postMCastOctetDeltaCount", tUnsigned},
	{21, "flowEndSysUpTime", tUnsigned}, {22, "flowStartSysUpTime", tUnsigned},
	{23, "postOctetDeltaCount", tUnsigned}, {24, "postPacketDeltaCount", tUnsigned},
	{25, "minimumIpTotalLength", tUnsigned}, {26, "maximumIpTotalLength", tUnsigned},
	{27, "sourceIPv6Address", tAddr6}, {28, "destinationIPv6Address", tAddr6},
	{29, "sourceIPv6PrefixLength", tUnsigned}, {30, "destinationIPv6PrefixLength", tUnsigned},
	{31, "flowLabelIPv6", tUnsigned}, {32, "icmpTypeCodeIPv4", tUnsigned}, {33, "igmpType", tUnsigned},
	{34, "samplingInterval", tUnsigned}, {35, "samplingAlgorithm", tUnsigned},
	{36, "flowActiveTimeout", tUnsigned}, {37, "flowIdleTimeout", tUnsigned},
	{38, "engineType", tUnsigned}, {39, "engineId", tUnsigned},
	{40, "exportedOctetTotalCount", tUnsigned}, {41, "exportedMessageTotalCount", tUnsigned},
	{42, "exportedFlowRecordTotalCount", tUnsigned}, {43, "ipv4RouterSc", tAddr4},
	{44, "sourceIPv4Prefix", tAddr4}, {45, "destinationIPv4Prefix", tAddr4},
	{46, "mplsTopLabelType", tUnsigned}, {47, "mplsTopLabelIPv4Address", tAddr4},
	{48, "samplerId", tUnsigned}, {49, "samplerMode", tUnsigned}, {50, "samplerRandomInterval", tUnsigned},
	{51, "classId", tUnsigned}, {52, "minimumTTL", tUnsigned}, {53, "maximumTTL", tUnsigned},
	{54, "fragmentIdentification", tUnsigned}, {55, "postIpClassOfService", tUnsigned},
	{56, "sourceMacAddress", tMAC}, {57, "postDestinationMacAddress", tMAC},
	{58, "vlanId", tUnsigned}, {59, "postVlanId", tUnsigned}, {60, "ipVersion", tUnsigned},
	{61, "flowDirection", tUnsigned}, {62, "ipNextHopIPv6Address", tAddr6}, {63, "bgpNextHopIPv6Address", tAddr6},
	{64, "ipv6ExtensionHeaders", tUnsigned},
	{70, "mplsTopLabelStackSection", tOctets}, {71, "mplsLabelStackSection2", tOctets},
	{72, "mplsLabelStackSection3", tOctets}, {73, "mplsLabelStackSection4", tOctets},
	{74, "mplsLabelStackSection5", tOctets}, {75, "mplsLabelStackSection6", tOctets},
	{76, "mplsLabelStackSection7", tOctets}, {77, "mplsLabelStackSection8", tOctets},
	{78, "mplsLabelStackSection9", tOctets}, {79, "mplsLabelStackSection10", tOctets},
	{80, "destinationMacAddress", tMAC}, {81, "postSourceMacAddress", tMAC},
	{82, "interfaceName", tString}, {83, "interfaceDescription", tString}, {84, "samplerName", tString},
	{85, "octetTotalCount", tUnsigned}, {86, "packetTotalCount", tUnsigned}, {87, "flagsAndSamplerId", tUnsigned},
	{88, "fragmentOffset", tUnsigned}, {89, "forwardingStatus", tUnsigned}, {90, "mplsVpnRouteDistinguisher", tOctets},
	{91, "mplsTopLabelPrefixLength", tUnsigned}, {92, "srcTrafficIndex", tUnsigned}, {93, "dstTrafficIndex", tUnsigned},
	{94, "applicationDescription", tString}, {95, "applicationId", tOctets}, {96, "applicationName", tString},
	{98, "postIpDiffServCodePoint", tUnsigned}, {99, "multicastReplicationFactor", tUnsigned},
	{100, "className", tString}, {101, "classificationEngineId", tUnsigned},
	{102, "layer2packetSectionOffset", tUnsigned}, {103, "layer2packetSectionSize", tUnsigned},
	{104, "layer2packetSectionData", tOctets},
	{128, "bgpNextAdjacentAsNumber", tUnsigned}, {129, "bgpPrevAdjacentAsNumber", tUnsigned},
	{130, "exporterIPv4Address", tAddr4}, {131, "exporterIPv6Address", tAddr6},
	{132, "droppedOctetDeltaCount", tUnsigned}, {133, "droppedPacketDeltaCount", tUnsigned},
	{134, "droppedOctetTotalCount", tUnsigned}, {135, "droppedPacketTotalCount", tUnsigned},
	{136, "flowEndReason", tUnsigned}, {137, "commonPropertiesId", tUnsigned}, {138, "observationPointId", tUnsigned},
	{139, "icmpTypeCodeIPv6", tUnsigned}, {140, "mplsTopLabelIPv6Address", tAddr6},
	{141, "lineCardId", tUnsigned}, {142, "portId", tUnsigned}, {143, "meteringProcessId", tUnsigned},
	{144, "exportingProcessId", tUnsigned}, {145, "templateId", tUnsigned}, {146, "wlanChannelId", tUnsigned},
	{147, "wlanSSID", tString}, {148, "flowId", tUnsigned}, {149, "observationDomainId", tUnsigned},
	{150, "flowStartSeconds", tSeconds}, {151, "flowEndSeconds", tSeconds},
	{152, "flowStartMilliseconds", tMillis}, {153, "flowEndMilliseconds", tMillis},
	{154, "flowStartMicroseconds", tMicros}, {155, "flowEndMicroseconds", tMicros},
	{156, "flowStartNanoseconds", tNanos}, {157, "flowEndNanoseconds", tNanos},
	{158, "flowStartDeltaMicroseconds", tUnsigned}, {159, "flowEndDeltaMicroseconds", tUnsigned},
	{160, "systemInitTimeMilliseconds", tMillis},
	{161, "flowDurationMilliseconds", tUnsigned}, {162, "flowDurationMicroseconds", tUnsigned},
	{163, "observedFlowTotalCount", tUnsigned}, {164, "ignoredPacketTotalCount", tUnsigned},
	{165, "ignoredOctetTotalCount", tUnsigned}, {166, "notSentFlowTotalCount", tUnsigned},
	{167, "notSentPacketTotalCount", tUnsigned}, {168, "notSentOctetTotalCount", tUnsigned},
	{169, "destinationIPv6Prefix", tAddr6}, {170, "sourceIPv6Prefix", tAddr6},
	{171, "postOctetTotalCount", tUnsigned}, {172, "postPacketTotalCount", tUnsigned},
	{173, "flowKeyIndicator", tUnsigned}, {174, "postMCastPacketTotalCount", tUnsigned},
	{175, "postMCastOctetTotalCount", tUnsigned},
	{176, "icmpTypeIPv4", tUnsigned}, {177, "icmpCodeIPv4", tUnsigned},
	{178, "icmpTypeIPv6", tUnsigned}, {179, "icmpCodeIPv6", tUnsigned},
	{180, "udpSourcePort", tUnsigned}, {181, "udpDestinationPort", tUnsigned},
	{182, "tcpSourcePort", tUnsigned}, {183, "tcpDestinationPort", tUnsigned},
	{184, "tcpSequenceNumber", tUnsigned}, {185, "tcpAcknowledgementNumber", tUnsigned},
	{186, "tcpWindowSize", tUnsigned}, {187, "tcpUrgentPointer", tUnsigned}, {188, "tcpHeaderLength", tUnsigned},
	{189, "ipHeaderLength", tUnsigned}, {190, "totalLengthIPv4", tUnsigned}, {191, "payloadLengthIPv6", tUnsigned},
	{192, "ipTTL", tUnsigned}, {193, "nextHeaderIPv6", tUnsigned}, {194, "mplsPayloadLength", tUnsigned},
	{195, "ipDiffServCodePoint", tUnsigned}, {196, "ipPrecedence", tUnsigned}, {197, "fragmentFlags", tUnsigned},
	{198, "octetDeltaSumOfSquares", tUnsigned}, {199, "octetTotalSumOfSquares", tUnsigned},
	{200, "mplsTopLabelTTL", tUnsigned}, {201, "mplsLabelStackLength", tUnsigned},
	{202, "mplsLabelStackDepth", tUnsigned}, {203, "mplsTopLabelExp", tUnsigned},
	{204, "ipPayloadLength", tUnsigned}, {205, "udpMessageLength", tUnsigned}, {206, "isMulticast", tUnsigned},
	{207, "ipv4IHL", tUnsigned}, {208, "ipv4Options", tUnsigned}, {209, "tcpOptions", tUnsigned},
	{210, "paddingOctets", tOctets}, {211, "collectorIPv4Address", tAddr4}, {212, "collectorIPv6Address", tAddr6},
	{213, "exportInterface", tUnsigned}, {214, "exportProtocolVersion", tUnsigned},
	{215, "exportTransportProtocol", tUnsigned}, {216, "collectorTransportPort", tUnsigned},
	{217, "exporterTransportPort", tUnsigned}, {218, "tcpSynTotalCount", tUnsigned},
	{219, "tcpFinTotalCount", tUnsigned}, {220, "tcpRstTotalCount", tUnsigned}, {221, "tcpPshTotalCount", tUnsigned},
	{222, "tcpAckTotalCount", tUnsigned}, {223, "tcpUrgTotalCount", tUnsigned}, {224, "ipTotalLength", tUnsigned},
	{225, "postNATSourceIPv4Address", tAddr4}, {226, "postNATDestinationIPv4Address", tAddr4},
	{227, "postNAPTSourceTransportPort", tUnsigned}, {228, "postNAPTDestinationTransportPort", tUnsigned},
	{229, "natOriginatingAddressRealm", tUnsigned}, {230, "natEvent", tUnsigned},
	{231, "initiatorOctets", tUnsigned}, {232, "responderOctets", tUnsigned}, {233, "firewallEvent", tUnsigned},
	{234, "ingressVRFID", tUnsigned}, {235, "egressVRFID", tUnsigned}, {236, "VRFname", tString},
	{237, "postMplsTopLabelExp", tUnsigned}, {238, "tcpWindowScale", tUnsigned}, {239, "biflowDirection", tUnsigned},
	{240, "ethernetHeaderLength", tUnsigned}, {241, "ethernetPayloadLength", tUnsigned},
	{242, "ethernetTotalLength", tUnsigned}, {243, "dot1qVlanId", tUnsigned}, {244, "dot1qPriority", tUnsigned},
	{245, "dot1qCustomerVlanId", tUnsigned}, {246, "dot1qCustomerPriority", tUnsigned},
	{247, "metroEvcId", tString}, {248, "metroEvcType", tUnsigned}, {249, "pseudoWireId", tUnsigned},
	{250, "pseudoWireType", tUnsigned}, {251, "pseudoWireControlWord", tUnsigned},
	{252, "ingressPhysicalInterface", tUnsigned}, {253, "egressPhysicalInterface", tUnsigned},
	{254, "postDot1qVlanId", tUnsigned}, {255, "postDot1qCustomerVlanId", tUnsigned}, {256, "ethernetType", tUnsigned},
	{257, "postIpPrecedence", tUnsigned}, {258, "collectionTimeMilliseconds", tMillis},
	{259, "exportSctpStreamId", tUnsigned}, {260, "maxExportSeconds", tSeconds}, {261, "maxFlowEndSeconds", tSeconds},
	{262, "messageMD5Checksum", tOctets}, {263, "messageScope", tUnsigned}, {264, "minExportSeconds", tSeconds},
	{265, "minFlowStartSeconds", tSeconds}, {266, "opaqueOctets", tOctets}, {267, "sessionScope", tUnsigned},
	{268, "maxFlowEndMicroseconds", tMicros}, {269, "maxFlowEndMilliseconds", tMillis},
	{270, "maxFlowEndNanoseconds", tNanos}, {271, "minFlowStartMicroseconds", tMicros},
	{272, "minFlowStartMilliseconds", tMillis}, {273, "minFlowStartNanoseconds", tNanos},
	{274, "collectorCertificate", tOctets}, {275, "exporterCertificate", tOctets},
	{276, "dataRecordsReliability", tBool}, {277, "observationPointType", tUnsigned},
	{278, "newConnectionDeltaCount", tUnsigned}, {279, "connectionSumDurationSeconds", tUnsigned},
	{280, "connectionTransactionId", tUnsigned},
	{281, "postNATSourceIPv6Address", tAddr6}, {282, "postNATDestinationIPv6Address", tAddr6},
	{283, "natPoolId", tUnsigned}, {284, "natPoolName", tString}, {285, "anonymizationFlags", tUnsigned},
	{286, "anonymizationTechnique", tUnsigned}, {287, "informationElementIndex", tUnsigned},
	{288, "p2pTechnology", tString}, {289, "tunnelTechnology", tString}, {290, "encryptedTechnology", tString},
	{291, "basicList", tOctets}, {292, "subTemplateList", tOctets}, {293, "subTemplateMultiList", tOctets},
	{294, "bgpValidityState", tUnsigned}, {295, "IPSecSPI", tUnsigned}, {296, "greKey", tUnsigned},
	{297, "natType", tUnsigned}, {298, "initiatorPackets", tUnsigned}, {299, "responderPackets", tUnsigned},
	{300, "observationDomainName", tString}, {301, "selectionSequenceId", tUnsigned}, {302, "selectorId", tUnsigned},
	{303, "informationElementId", tUnsigned}, {304, "selectorAlgorithm", tUnsigned},
	{305, "samplingPacketInterval", tUnsigned}, {306, "samplingPacketSpace", tUnsigned},
	{307, "samplingTimeInterval", tUnsigned}, {308, "samplingTimeSpace", tUnsigned},
	{309, "samplingSize", tUnsigned}, {310, "samplingPopulation", tUnsigned}, {311, "samplingProbability", tFloat},
	{312, "dataLinkFrameSize", tUnsigned}, {313, "ipHeaderPacketSection", tOctets},
	{314, "ipPayloadPacketSection", tOctets}, {315, "dataLinkFrameSection", tOctets},
	{316, "mplsLabelStackSection", tOctets}, {317, "mplsPayloadPacketSection", tOctets},
	{318, "selectorIdTotalPktsObserved", tUnsigned}, {319, "selectorIdTotalPktsSelected", tUnsigned},
	{320, "absoluteError", tFloat}, {321, "relativeError", tFloat},
	{322, "observationTimeSeconds", tSeconds}, {323, "observationTimeMilliseconds", tMillis},
	{324, "observationTimeMicroseconds", tMicros}, {325, "observationTimeNanoseconds", tNanos},
	{326, "digestHashValue", tUnsigned}, {327, "hashIPPayloadOffset", tUnsigned}, {328, "hashIPPayloadSize", tUnsigned},
	{329, "hashOutputRangeMin", tUnsigned}, {330, "hashOutputRangeMax", tUnsigned},
	{331, "hashSelectedRangeMin", tUnsigned}, {332, "hashSelectedRangeMax", tUnsigned},
	{333, "hashDigestOutput", tBool}, {334, "hashInitialiserValue", tUnsigned}, {335, "selectorName", tString},
	{336, "upperCILimit", tFloat}, {337, "lowerCILimit", tFloat}, {338, "confidenceLevel", tFloat},
	{339, "informationElementDataType", tUnsigned}, {340, "informationElementDescription", tString},
	{341, "informationElementName", tString}, {342, "informationElementRangeBegin", tUnsigned},
	{343, "informationElementRangeEnd", tUnsigned}, {344, "informationElementSemantics", tUnsigned},
	{345, "informationElementUnits", tUnsigned}, {346, "privateEnterpriseNumber", tUnsigned},
	{347, "virtualStationInterfaceId", tOctets}, {348, "virtualStationInterfaceName", tString},
	{349, "virtualStationUUID", tOctets}, {350, "virtualStationName", tString}, {351, "layer2SegmentId", tUnsigned},
	{352, "layer2OctetDeltaCount", tUnsigned}, {353, "layer2OctetTotalCount", tUnsigned},
	{354, "ingressUnicastPacketTotalCount", tUnsigned}, {355, "ingressMulticastPacketTotalCount", tUnsigned},
	{356, "ingressBroadcastPacketTotalCount", tUnsigned}, {357, "egressUnicastPacketTotalCount", tUnsigned},
	{358, "egressBroadcastPacketTotalCount", tUnsigned},
	{359, "monitoringIntervalStartMilliSeconds", tMillis}, {360, "monitoringIntervalEndMilliSeconds", tMillis},
	{361, "portRangeStart", tUnsigned}, {362, "portRangeEnd", tUnsigned}, {363, "portRangeStepSize", tUnsigned},
	{364, "portRangeNumPorts", tUnsigned}, {365, "staMacAddress", tMAC}, {366, "staIPv4Address", tAddr4},
	{367, "wtpMacAddress", tMAC}, {368, "ingressInterfaceType", tUnsigned}, {369, "egressInterfaceType", tUnsigned},
	{370, "rtpSequenceNumber", tUnsigned},
}

// v9Names are the NetFlow v9 names the product documents for the counters;
// they win over the IANA names.
var v9Names = map[uint16]string{
	1:  "in_bytes",
	2:  "in_pkts",
	23: "out_bytes",
	24: "out_pkts",
}

// v9ScopeNames names NetFlow v9 options scope field types (RFC 3954 §6.1),
// which are a namespace of their own.
var v9ScopeNames = [...]string{
	1: "scope_system",
	2: "scope_interface",
	3: "scope_line_card",
	4: "scope_cache",
	5: "scope_template",
}

func buildIETable() *[maxIE]ieInfo {
	var t [maxIE]ieInfo
	for _, el := range ianaElements {
		name := snakeCase(el.name)
		if n, ok := v9Names[el.id]; ok {
			name = n
		}
		t[el.id] = ieInfo{name: name, typ: el.typ}
	}
	return &t
}

// snakeCase turns an IANA camelCase name into snake_case, keeping acronyms
// together: sourceIPv4Address -> source_ipv4_address, postNATSourceIPv4Address
// -> post_nat_source_ipv4_address.
func snakeCase(s string) string {
	s = strings.NewReplacer("IPv4", "Ipv4", "IPv6", "Ipv6", "MCast", "Mcast", "VRFname", "VrfName",
		"layer2packet", "layer2Packet", "IPSec", "Ipsec").Replace(s)
	var sb strings.Builder
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	isLower := func(c byte) bool { return c >= 'a' && c <= 'z' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUpper(c) {
			if i > 0 {
				prev := s[i-1]
				nextLower := i+1 < len(s) && isLower(s[i+1])
				if isLower(prev) || isDigit(prev) || (isUpper(prev) && nextLower) {
					sb.WriteByte('_')
				}
			}
			sb.WriteByte(c + 'a' - 'A')
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// keyCache interns generated keys (ie_<id>, pen_<pen>_<id>) so that templates
// re-sent by thousands of exporters share one string per key. It stops
// growing at keyCacheMax entries (a flood of random enterprise numbers);
// templates still hold their own key string then.
var (
	keyCache    sync.Map // uint64 -> string
	keyCacheLen atomic.Int64
)

const keyCacheMax = 1 << 16

// fieldKey returns the netflow.* key for an IE. It allocates only the first
// time an unknown or enterprise key is seen; templates hold the result.
func fieldKey(pen uint32, id uint16) string {
	if pen == 0 && int(id) < maxIE && ieTable[id].name != "" {
		return ieTable[id].name
	}
	ck := uint64(pen)<<16 | uint64(id)
	if v, ok := keyCache.Load(ck); ok {
		return v.(string)
	}
	var k string
	if pen == 0 {
		k = "ie_" + strconv.Itoa(int(id))
	} else {
		k = "pen_" + strconv.FormatUint(uint64(pen), 10) + "_" + strconv.Itoa(int(id))
	}
	return cacheKey(ck, k)
}

func cacheKey(ck uint64, k string) string {
	if keyCacheLen.Load() >= keyCacheMax {
		return k
	}
	v, loaded := keyCache.LoadOrStore(ck, k)
	if !loaded {
		keyCacheLen.Add(1)
	}
	return v.(string)
}

// scopeKey returns the key of a NetFlow v9 options scope field.
func scopeKey(typ uint16) string {
	if int(typ) < len(v9ScopeNames) && v9ScopeNames[typ] != "" {
		return v9ScopeNames[typ]
	}
	ck := uint64(1)<<48 | uint64(typ)
	if v, ok := keyCache.Load(ck); ok {
		return v.(string)
	}
	return cacheKey(ck, "scope_"+strconv.Itoa(int(typ)))
}
