package deps
import (
 _ "github.com/netsampler/goflow2/v2/decoders/netflow"
 _ "github.com/netsampler/goflow2/v2/decoders/sflow"
 _ "github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
 _ "github.com/spf13/viper"
 _ "github.com/spf13/cobra"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/prometheus/client_golang/prometheus/promhttp"
 _ "github.com/prometheus/client_golang/prometheus/testutil"
 _ "golang.org/x/net/ipv4"
 _ "golang.org/x/sys/unix"
 _ "golang.org/x/sync/errgroup"
 _ "github.com/google/go-cmp/cmp"
 _ "go.uber.org/goleak"
 _ "github.com/google/gopacket/pcapgo"
)
