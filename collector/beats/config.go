package beats

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// Config configures the Beats (Lumberjack v2) input.
type Config struct {
	// Listen is host:port; "" turns the input off. Logstash's port is 5044.
	Listen string
	// CertFile and KeyFile (both or neither) turn on TLS.
	CertFile, KeyFile string
	// ClientCAFile, when set, makes TLS require a client certificate
	// signed by one of its CAs.
	ClientCAFile string
	// Timeout bounds the read of one batch once its window frame arrived
	// (the library's read timeout), every frame once its first byte
	// arrived, and the write of an acknowledgement.
	Timeout time.Duration
	// IdleTimeout closes a connection that starts no batch for this long
	// (Logstash's client_inactivity_timeout).
	IdleTimeout time.Duration
	// MaxConnections bounds the open connections; more are accepted and
	// closed at once, and counted.
	MaxConnections int
	// Index is the index pattern of the documents (output.index.beats).
	Index string
	// MaxBatchEvents is how many events go into one pipeline batch.
	MaxBatchEvents int
	// Workers convert lumberjack batches into events (0: GOMAXPROCS).
	Workers int
}

// Defaults.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
	DefaultMaxConnections = 1024
	DefaultIndex          = "sluice-beats-%{+yyyy.MM.dd}"
)

// Bounds of what a peer may declare (see guard.go). A Beat's window is
// bulk_max_size events (2048 by default for the Logstash output).
const (
	// MaxWindow is the largest window (events per batch) accepted.
	MaxWindow = 1 << 16
	// MaxEventBytes is the largest JSON document accepted.
	MaxEventBytes = 16 << 20
	// MaxCompressedBytes bounds one compressed frame, before and after
	// inflating.
	MaxCompressedBytes = 64 << 20
	// MaxWindowBytes bounds the documents of one window: go-lumber holds
	// a whole window in memory before it hands it on.
	MaxWindowBytes = 128 << 20
)

// Default returns the defaults (the input off).
func Default() Config {
	return Config{Timeout: DefaultTimeout, IdleTimeout: DefaultIdleTimeout, MaxConnections: DefaultMaxConnections,
		Index: DefaultIndex, MaxBatchEvents: 512}
}

// Validate checks c and, with TLS, loads the files, so check-config
// reports unreadable or mismatched ones. Keys are named as in the config
// file.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

func (c Config) validate() (*tls.Config, error) {
	var errs []error
	if c.Listen != "" {
		_, port, err := net.SplitHostPort(c.Listen)
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("beats.listen: %q is not host:port; use e.g. 0.0.0.0:5044 (Logstash's port) or \"\" to turn the input off", c.Listen))
		}
	}
	if c.Timeout < time.Second || c.Timeout > time.Hour {
		errs = append(errs, fmt.Errorf("beats.timeout: %s is out of range; use 1s..1h or remove it to use %s", c.Timeout, DefaultTimeout))
	}
	if c.MaxConnections < 1 || c.MaxConnections > 1<<20 {
		errs = append(errs, fmt.Errorf("beats.max_connections: %d is out of range; use 1..1048576 (default %d)", c.MaxConnections, DefaultMaxConnections))
	}
	if c.IdleTimeout < time.Second {
		errs = append(errs, fmt.Errorf("beats idle timeout: %s is below 1s", c.IdleTimeout))
	}
	if c.MaxBatchEvents < 1 {
		errs = append(errs, fmt.Errorf("collector.max_batch_events: %d must be at least 1", c.MaxBatchEvents))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("beats workers: %d must not be negative", c.Workers))
	}
	if _, err := event.NewIndexNamer(c.Index, time.UTC); err != nil {
		errs = append(errs, fmt.Errorf("output.index.beats: %w", err))
	}
	conf, err := c.tlsConfig()
	if err != nil {
		errs = append(errs, err)
	}
	return conf, errors.Join(errs...)
}

// tlsConfig loads the TLS files (nil without TLS).
func (c Config) tlsConfig() (*tls.Config, error) {
	switch {
	case c.CertFile == "" && c.KeyFile == "" && c.ClientCAFile == "":
		return nil, nil
	case c.CertFile == "" && c.KeyFile == "":
		return nil, errors.New("beats.tls.client_ca_file: set without beats.tls.cert_file and key_file; client certificates need TLS: set both, or remove client_ca_file")
	case c.CertFile == "":
		return nil, errors.New("beats.tls.cert_file: missing; beats.tls.key_file needs its PEM certificate (set both or neither)")
	case c.KeyFile == "":
		return nil, errors.New("beats.tls.key_file: missing; beats.tls.cert_file needs its PEM private key (set both or neither)")
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("beats.tls.cert_file, beats.tls.key_file: %w; check the paths and that the key belongs to the certificate", err)
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("beats.tls.client_ca_file: %w; check the path", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("beats.tls.client_ca_file: no PEM certificate in %s; give a PEM CA bundle", c.ClientCAFile)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return conf, nil
}
