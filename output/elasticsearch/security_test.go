package elasticsearch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/bcrypt"

	"github.com/sluicelab/sluice/internal/estest"
)

// testPKI is a throwaway CA and a certificate for 127.0.0.1 and localhost
// signed by it.
type testPKI struct {
	caPEM         []byte
	caFingerprint string // SHA-256 of the CA certificate's DER, lower-case hex
	nodeChainPEM  []byte // the node's certificate, then the CA's
	nodeKeyPEM    []byte // PKCS #8
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	now := time.Now()
	serial := func() *big.Int {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "sluice test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	nodeKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	nodeTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	nodeDER, err := x509.CreateCertificate(rand.Reader, nodeTmpl, ca, &nodeKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(caDER)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return testPKI{
		caPEM:         caPEM,
		caFingerprint: hex.EncodeToString(sum[:]),
		// The node sends the CA with its own certificate, as Elasticsearch's
		// auto-configured http.p12 does: a CA fingerprint can only match a
		// certificate the node presents.
		nodeChainPEM: append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: nodeDER}), caPEM...),
		nodeKeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// colonFingerprint writes a hex fingerprint as openssl and Kibana show it:
// upper case, bytes separated by colons.
func colonFingerprint(fp string) string {
	var sb strings.Builder
	for i := 0; i < len(fp); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(strings.ToUpper(fp[i : i+2]))
	}
	return sb.String()
}

// TestSecurity runs a private node with security on: HTTPS with a
// certificate from a throwaway CA, a file-realm user and API keys. Each
// subtest writes through the output with one combination of the security
// options, on its own indices and spool.
func TestSecurity(t *testing.T) {
	pki := newTestPKI(t)
	const user = "sluice_writer"
	password := rand.Text()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	node := estest.Start(t, estest.Options{
		Settings: map[string]string{
			"xpack.security.enabled":              "true",
			"xpack.security.http.ssl.enabled":     "true",
			"xpack.security.http.ssl.certificate": "certs/node.pem",
			"xpack.security.http.ssl.key":         "certs/node.key",
			// A single-node cluster on loopback runs without transport TLS.
			"xpack.security.transport.ssl.enabled": "false",
			"xpack.security.authc.api_key.enabled": "true",
		},
		ConfigFiles: map[string][]byte{
			"certs/node.pem": pki.nodeChainPEM,
			"certs/node.key": pki.nodeKeyPEM,
			"users":          []byte(user + ":" + string(hash) + "\n"),
			"users_roles":    []byte("superuser:" + user + "\n"),
		},
		CACertPEM: pki.caPEM,
		Username:  user,
		Password:  password,
	})
	url := node.URL()
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("node URL %s, want https", url)
	}
	// Security is on: no credentials, no access.
	if status, body := node.DoAs(t, "", http.MethodGet, url+"/_cluster/health", ""); status != http.StatusUnauthorized {
		t.Fatalf("GET /_cluster/health without credentials: status %d, want 401: %s", status, body)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pki.caPEM, 0o644); err != nil {
		t.Fatal(err)
	}

	const n = 300
	secured := func(t *testing.T) *fixture {
		t.Helper()
		f := newFixture(t, url)
		f.cfg.MaxDocs = 100
		return f
	}
	// delivered writes n documents through a new output with f's config and
	// checks that they and sluice's templates arrived.
	delivered := func(t *testing.T, f *fixture) *Output {
		t.Helper()
		o := f.open(t)
		for i := 0; i < n; i += 100 {
			write(t, o, flowBatch(i, 100, day))
		}
		waitDelivered(t, o, time.Minute)
		closeDelivered(t, o)
		seqCheck(t, url, f.index(day), n)
		if got := testutil.ToFloat64(o.m.spooled); got != 0 {
			t.Errorf("%v documents spooled, want 0", got)
		}
		checkTemplates(t, url, f, http.StatusOK)
		return o
	}
	// refused writes n documents through a new output with f's config and
	// checks that nothing reached the cluster, everything is in the spool,
	// and Status says why.
	refused := func(t *testing.T, f *fixture, wantStatus ...string) {
		t.Helper()
		o := f.open(t)
		write(t, o, flowBatch(0, n, day))
		closeOutput(t, o)
		if _, d := o.spool.stats(); d != n {
			t.Errorf("spool holds %d documents after Close, want %d", d, n)
		}
		if got := testutil.ToFloat64(o.m.indexed); got != 0 {
			t.Errorf("%v documents counted as indexed, want 0", got)
		}
		st := o.Status()
		for _, want := range append([]string{fmt.Sprintf("spooling, %d documents waiting", n)}, wantStatus...) {
			if !strings.Contains(st, want) {
				t.Errorf("Status() = %q, want it to mention %q", st, want)
			}
		}
		if status, body := estest.Do(t, http.MethodGet, url+"/"+f.index(day), ""); status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404 (nothing indexed): %s", f.index(day), status, body)
		}
		checkTemplates(t, url, f, http.StatusNotFound)
	}
	// replayed opens a new output with f's config on the same spool and
	// checks that it delivers what refused left there.
	replayed := func(t *testing.T, f *fixture) {
		t.Helper()
		o := f.open(t)
		waitDelivered(t, o, time.Minute)
		closeDelivered(t, o)
		seqCheck(t, url, f.index(day), n)
		if got := testutil.ToFloat64(o.m.replayed); got != n {
			t.Errorf("replayed metric = %v, want %d", got, n)
		}
		checkTemplates(t, url, f, http.StatusOK)
	}

	t.Run("CAFileAndPassword", func(t *testing.T) {
		f := secured(t)
		f.cfg.CAFile = caFile
		f.cfg.Username, f.cfg.Password = user, password
		delivered(t, f)
	})

	t.Run("TwoAddressesFirstDown", func(t *testing.T) {
		f := secured(t)
		f.cfg.Addresses = []string{"https://" + closedPort(t), url}
		f.cfg.CAFile = caFile
		f.cfg.Username, f.cfg.Password = user, password
		delivered(t, f)
	})

	t.Run("CAFingerprintAndPassword", func(t *testing.T) {
		f := secured(t)
		f.cfg.CAFingerprint = pki.caFingerprint
		f.cfg.Username, f.cfg.Password = user, password
		delivered(t, f)
	})

	t.Run("APIKey", func(t *testing.T) {
		status, body := estest.Do(t, http.MethodPost, url+"/_security/api_key", `{"name":"sluice-test"}`)
		if status == http.StatusBadRequest && strings.Contains(string(body), "pattern_capture") {
			// API keys live in the .security index, whose analyzers come
			// from the analysis-common module, which the integ-test
			// distribution lacks.
			t.Skipf("this Elasticsearch distribution cannot store API keys (no analysis-common module): POST /_security/api_key: %s", body)
		}
		if status != http.StatusOK {
			t.Fatalf("POST /_security/api_key: status %d: %s", status, body)
		}
		var key struct {
			Encoded string `json:"encoded"`
		}
		if err := json.Unmarshal(body, &key); err != nil || key.Encoded == "" {
			t.Fatalf("POST /_security/api_key: %v: %s", err, body)
		}
		status, body = node.DoAs(t, "ApiKey "+key.Encoded, http.MethodGet, url+"/_security/_authenticate", "")
		if status != http.StatusOK || !strings.Contains(string(body), `"authentication_type":"api_key"`) {
			t.Fatalf("GET /_security/_authenticate with the API key: status %d: %s", status, body)
		}
		f := secured(t)
		f.cfg.CAFile = caFile
		f.cfg.APIKey = key.Encoded
		delivered(t, f)
	})

	t.Run("CAFingerprintWithColons", func(t *testing.T) {
		f := secured(t)
		f.cfg.CAFingerprint = colonFingerprint(pki.caFingerprint)
		f.cfg.Username, f.cfg.Password = user, password
		if err := f.cfg.Validate(); err != nil {
			t.Fatalf("Validate() with fingerprint %s: %v", f.cfg.CAFingerprint, err)
		}
		delivered(t, f)
	})

	t.Run("WrongCAFingerprint", func(t *testing.T) {
		f := secured(t)
		good := f.cfg
		good.CAFingerprint = pki.caFingerprint
		good.Username, good.Password = user, password
		other := sha256.Sum256([]byte("not the CA"))
		f.cfg = good
		f.cfg.CAFingerprint = hex.EncodeToString(other[:])
		refused(t, f, "fingerprint")
		f.cfg = good
		replayed(t, f)
	})

	// TLS verification is on by default: without a CA the node's
	// certificate is refused, and nothing is lost.
	t.Run("NoCAVerificationFails", func(t *testing.T) {
		f := secured(t)
		f.cfg.Username, f.cfg.Password = user, password
		refused(t, f, "certificate")
		f.cfg.CAFile = caFile
		replayed(t, f)
	})

	t.Run("WrongPassword", func(t *testing.T) {
		f := secured(t)
		f.cfg.CAFile = caFile
		f.cfg.Username, f.cfg.Password = user, "not-"+password
		refused(t, f, "401", "check output.elasticsearch.username/password/api_key")
		f.cfg.Password = password
		replayed(t, f)
	})

	t.Run("InsecureSkipVerify", func(t *testing.T) {
		f := secured(t)
		f.cfg.InsecureSkipVerify = true
		f.cfg.Username, f.cfg.Password = user, password
		delivered(t, f)
	})
}

// checkTemplates asserts that each of sluice's templates for f's indices
// answers GET with status (200 installed, 404 not), and with 200 that the
// index got its mappings from them.
func checkTemplates(t *testing.T, url string, f *fixture, status int) {
	t.Helper()
	tc := f.cfg.Template
	tc.FlowsIndex, tc.SyslogIndex = f.cfg.FlowsIndex, f.cfg.SyslogIndex
	tpls, err := BuildTemplates(tc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tpl := range tpls {
		path := "/_index_template/"
		if tpl.Kind == ComponentTemplate {
			path = "/_component_template/"
		}
		if tpl.Kind == ComponentTemplate && status == http.StatusNotFound && !strings.HasPrefix(tpl.Name, f.prefix) {
			continue // shared by every subtest; an earlier one installed it
		}
		if got, body := estest.Do(t, http.MethodGet, url+path+tpl.Name, ""); got != status {
			t.Errorf("GET %s%s: status %d, want %d: %.300s", path, tpl.Name, got, status, body)
		}
	}
	if status != http.StatusOK {
		return
	}
	got, body := estest.Do(t, http.MethodGet, url+"/"+f.index(day)+"/_mapping/field/source.ip", "")
	if got != http.StatusOK || !strings.Contains(string(body), `"type":"ip"`) {
		t.Errorf("GET %s/_mapping/field/source.ip: status %d, want 200 and type ip from the template: %s", f.index(day), got, body)
	}
}
