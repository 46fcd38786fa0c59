package beats

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicelab/sluice/internal/event"
)

// Documents the seeds and tests share.
var (
	seedPacketbeat = `{"@timestamp":"2026-12-06T21:10:11.345Z","@metadata":{"beat":"packetbeat","type":"_doc"},"type":"dns","event":{"dataset":"dns","category":["network"]},"source":{"ip":"10.1.2.3","port":53211},"destination":{"ip":"10.1.0.53","port":53},"dns":{"id":4711,"question":{"name":"Edge.Example.NET.","type":"A"},"answers":[{"data":"192.0.2.10","type":"A","ttl":60}],"resolved_ip":["192.0.2.10","2001:db8::1"],"header_flags":["RD","RA"]},"agent":{"type":"packetbeat"}}`
	seedSysmon     = `{"@timestamp":"2026-12-06T21:10:12.001Z","@metadata":{"beat":"winlogbeat"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":"22","event_data":{"ProcessId":"4312","QueryName":"Edge.Example.net","QueryStatus":"9501","QueryResults":"type:  5 edge.example.net;::ffff:93.184.216.34;","Image":"C:\\x\\firefox.exe"}}}`
	seedFilebeat   = `{"@timestamp":"2026-12-06T21:10:14Z","@metadata":{"beat":"filebeat"},"message":"GET / 200 \u00e9\ud800","log":{"offset":1234,"file":{"path":"/var/log/a.log"}},"tags":["x"],"n":null,"big":18446744073709551615,"f":1e300,"neg":-5,"deep":` + nested("abcdefghijklmnop", `{"q":1}`) + `}`
)

// nested wraps inner in one object per letter of keys, outermost first.
func nested(keys, inner string) string {
	for i := len(keys) - 1; i >= 0; i-- {
		inner = `{"` + keys[i:i+1] + `":` + inner + `}`
	}
	return inner
}

// FuzzConvert: any bytes either fail to convert or become an event whose
// document is one valid JSON object without duplicate keys.
func FuzzConvert(f *testing.F) {
	for _, s := range []string{seedPacketbeat, seedSysmon, seedFilebeat, `{}`, `[]`, `{"a":{"b":1},"a.b":2}`, `{"@timestamp":"x"}`,
		`{"x":[1,{"y":"\u0000"}],"dns":{"resolved_ip":"192.0.2.1"}}`, `{"a.":1,".b":2,"":3}`, `{"n":NaN,"i":Inf}`} {
		f.Add([]byte(s))
	}
	c := &converter{}
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, doc []byte) {
		b := event.NewBatch()
		defer b.Release()
		e := b.Add()
		if _, err := c.convert(b, e, bytes.Clone(doc), netip.MustParseAddr("192.0.2.7"), now); err != nil {
			return
		}
		out := e.AppendJSON(nil)
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("document of %q is not a JSON object: %v\n%s", doc, err, out)
		}
		checkNoDuplicates(t, out)
	})
}

// checkNoDuplicates fails when an object of doc has a key twice.
func checkNoDuplicates(t *testing.T, doc []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				if seen[k.(string)] {
					t.Fatalf("key %q twice in %s", k, doc)
				}
				seen[k.(string)] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	if err := walk(); err != nil {
		t.Fatalf("walking %s: %v", doc, err)
	}
}

// frames builds a lumberjack v2 stream: one window of the documents, as
// data frames, compressed when level >= 0.
func frames(docs []string, level int) []byte {
	var data bytes.Buffer
	for i, d := range docs {
		data.Write([]byte{'2', 'J'})
		_ = binary.Write(&data, binary.BigEndian, uint32(i+1))
		_ = binary.Write(&data, binary.BigEndian, uint32(len(d)))
		data.WriteString(d)
	}
	var out bytes.Buffer
	out.Write([]byte{'2', 'W'})
	_ = binary.Write(&out, binary.BigEndian, uint32(len(docs)))
	if level < 0 {
		out.Write(data.Bytes())
		return out.Bytes()
	}
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, level)
	_, _ = zw.Write(data.Bytes())
	_ = zw.Close()
	out.Write([]byte{'2', 'C'})
	_ = binary.Write(&out, binary.BigEndian, uint32(z.Len()))
	out.Write(z.Bytes())
	return out.Bytes()
}

// FuzzFraming writes arbitrary bytes to a real server over loopback and
// half-closes: the server must end the connection (no hang: bounded by
// its timeouts, and at once after EOF) and must not crash or allocate
// what a frame declares (the guard).
func FuzzFraming(f *testing.F) {
	docs := []string{seedPacketbeat, seedSysmon, seedFilebeat}
	for _, lvl := range []int{-1, 0, 6} {
		f.Add(frames(docs, lvl))
	}
	f.Add([]byte("2W\xff\xff\xff\xff"))
	f.Add([]byte("2W\x00\x00\x00\x012J\x00\x00\x00\x01\xff\xff\xff\xff"))
	f.Add([]byte("2W\x00\x00\x00\x012C\xff\xff\xff\xff"))
	f.Add([]byte("2J\x00\x00\x00\x01\x00\x00\x00\x02{}"))
	f.Add([]byte("2W\x00\x00\x00\x00"))
	// One server for the whole run (per fuzz worker), its output drained.
	cfg := Default()
	cfg.Listen, cfg.Workers, cfg.Timeout, cfg.IdleTimeout = "127.0.0.1:0", 1, time.Second, time.Second
	s, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	out := make(chan *event.Batch, 4)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = s.Run(ctx, out)
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case b := <-out:
				b.Release()
			case <-ctx.Done():
				return
			}
		}
	}()
	f.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	addr := s.Addr().String()
	f.Fuzz(func(t *testing.T, stream []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(stream); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server stopped reading for 10s (stream %q)", stream)
			}
			return // the server closed first: fine
		}
		_ = c.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server kept the connection open 10s after EOF (stream %q)", stream)
			}
		}
	})
}
