package deps

import (
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/gopacket/pcapgo"
	_ "github.com/netsampler/goflow2/v2/decoders/netflow"
	_ "github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
	_ "github.com/netsampler/goflow2/v2/decoders/sflow"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/viper"
	_ "go.uber.org/goleak"
	_ "golang.org/x/net/ipv4"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/sys/unix"
)
