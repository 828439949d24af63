package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

const (
	// maxSCRAMMessage bounds a SCRAM client message: a username and
	// authzid of maxNameBytes each, escaped, plus nonces and a proof.
	maxSCRAMMessage = 8 << 10
	// maxSCRAMNonce bounds the client nonce.
	maxSCRAMNonce = 512
	// scramNonceBytes is the number of random bytes in the server nonce
	// (at least 18; RFC 5802 asks for enough entropy).
	scramNonceBytes = 24
)

// scramFakeKey keys the made-up salts and keys of unknown users: stable
// for the life of the process, so that asking twice for the same unknown
// user yields the same salt, and unpredictable from outside.
var scramFakeKey = sync.OnceValue(func() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
})

// scramMech is SCRAM-SHA-1 and SCRAM-SHA-256, with or without channel
// binding (-PLUS) (RFC 5802, RFC 7677, RFC 9266).
type scramMech struct {
	name    string
	hash    SCRAMHash
	newHash func() hash.Hash
	plus    bool

	state           int // 0: want client-first; 1: want client-final; 2: want the empty final response
	cbindInput      []byte
	clientFirstBare string
	serverFirst     string
	nonce           string // client nonce + server nonce
	username        string
	authzid         string
	creds           SCRAMCredentials
	refusal         error // non-nil: the proof will fail with it (unknown user, unusable keys)
}

func newSCRAMMech(name string) *scramMech {
	m := &scramMech{name: name, hash: SCRAMSHA256, plus: strings.HasSuffix(name, "-PLUS")}
	if strings.HasPrefix(name, SCRAMSHA1Name) {
		m.hash = SCRAMSHA1
	}
	m.newHash, _ = m.hash.hashFunc()
	return m
}

func (m *scramMech) step(ctx context.Context, s *saslSession, resp []byte, first bool) ([]byte, bool, error) {
	switch m.state {
	case 0:
		if first && resp == nil {
			return nil, false, nil
		}
		return m.clientFirst(ctx, s, string(resp))
	case 1:
		return m.clientFinal(ctx, s, string(resp))
	default:
		if len(resp) != 0 {
			return nil, false, malformed(m.name, "unexpected data after the server signature")
		}
		return nil, true, nil
	}
}

func (m *scramMech) failed() error {
	return fmt.Errorf("auth: %s: %w", m.name, ErrInvalidCredentials)
}

func (m *scramMech) clientFirst(ctx context.Context, s *saslSession, msg string) ([]byte, bool, error) {
	cf, err := parseSCRAMClientFirst(msg)
	if err != nil {
		return nil, false, malformed(m.name, "%v", err)
	}
	t := s.opts.Transport
	switch {
	case m.plus && cf.cbFlag != 'p':
		return nil, false, fmt.Errorf("%w: %s: client did not use channel binding", ErrInvalidCredentials, m.name)
	case !m.plus && cf.cbFlag == 'p':
		return nil, false, fmt.Errorf("%w: %s: channel binding requested without -PLUS", ErrInvalidCredentials, m.name)
	case cf.cbFlag == 'y' && slices.Contains(SupportedMechanisms(s.a, t), m.name+"-PLUS"):
		// The client could bind but believes the server cannot: someone
		// removed the -PLUS mechanisms from what it saw (RFC 5802 §6).
		return nil, false, fmt.Errorf("%w: %s: channel binding downgrade detected", ErrInvalidCredentials, m.name)
	}
	m.cbindInput = []byte(cf.gs2Header)
	if cf.cbFlag == 'p' {
		if !slices.Contains(channelBindingTypes(t), cf.cbName) {
			return nil, false, fmt.Errorf("%w: %s: channel binding type %q not supported", ErrInvalidCredentials, m.name, cf.cbName)
		}
		data, err := channelBindingData(t, cf.cbName)
		if err != nil {
			return nil, false, fmt.Errorf("%w: %s: %v", ErrInvalidCredentials, m.name, err)
		}
		m.cbindInput = append(m.cbindInput, data...)
	}
	m.username, m.authzid, m.clientFirstBare = cf.username, cf.authzid, cf.bare

	if err := s.claim(ctx, cf.username); err != nil {
		return nil, false, err
	}
	store := s.a.(SCRAMKeyStore) // NewServerSession checked
	creds, err := store.SCRAMCredentials(ctx, m.hash, cf.username)
	switch {
	case err == nil:
		m.creds = creds
		m.refusal = m.checkCredentials(creds)
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrUnsupportedMechanism):
		// Unknown user, or no keys for this hash: go on with made-up keys
		// so that the client learns nothing before the proof.
		m.refusal = m.failed()
	default:
		return nil, false, fmt.Errorf("auth: %s: %w", m.name, err)
	}
	if m.refusal != nil {
		m.creds = m.fakeCredentials(cf.username)
	}

	snonce := ""
	if s.hooks != nil && s.hooks.scramNonce != "" {
		snonce = s.hooks.scramNonce
	} else {
		b := make([]byte, scramNonceBytes)
		rand.Read(b)
		snonce = base64.RawStdEncoding.EncodeToString(b)
	}
	m.nonce = cf.nonce + snonce
	m.serverFirst = "r=" + m.nonce +
		",s=" + base64.StdEncoding.EncodeToString(m.creds.Salt) +
		",i=" + strconv.Itoa(m.creds.Iterations)
	m.state = 1
	return []byte(m.serverFirst), false, nil
}

// checkCredentials returns why stored keys cannot be used, or nil.
func (m *scramMech) checkCredentials(c SCRAMCredentials) error {
	size := m.newHash().Size()
	switch {
	case c.Iterations < DefaultSCRAMIterations:
		return fmt.Errorf("auth: %s: stored keys refused: iteration count %d below %d: %w",
			m.name, c.Iterations, DefaultSCRAMIterations, ErrInvalidCredentials)
	case len(c.Salt) == 0 || len(c.StoredKey) != size || len(c.ServerKey) != size:
		return fmt.Errorf("auth: %s: stored keys refused: wrong salt or key length: %w", m.name, ErrInvalidCredentials)
	}
	return nil
}

// fakeCredentials makes up keys for a user that has none: a salt derived
// from the username (the same on every attempt, as a real one would be),
// the default iteration count, and keys no proof matches.
func (m *scramMech) fakeCredentials(username string) SCRAMCredentials {
	derive := func(label string, n int) []byte {
		mac := hmac.New(sha256.New, scramFakeKey())
		mac.Write([]byte(label + "\x00" + string(m.hash) + "\x00" + username))
		sum := mac.Sum(nil)
		return sum[:n]
	}
	size := m.newHash().Size()
	return SCRAMCredentials{
		Salt:       derive("salt", 16),
		Iterations: DefaultSCRAMIterations,
		StoredKey:  derive("stored", size),
		ServerKey:  derive("server", size),
	}
}

func (m *scramMech) clientFinal(ctx context.Context, s *saslSession, msg string) ([]byte, bool, error) {
	cf, err := parseSCRAMClientFinal(msg)
	if err != nil {
		return nil, false, malformed(m.name, "%v", err)
	}
	if subtle.ConstantTimeCompare(cf.cbind, m.cbindInput) != 1 {
		return nil, false, fmt.Errorf("%w: %s: channel binding does not match", ErrInvalidCredentials, m.name)
	}
	if cf.nonce != m.nonce {
		return nil, false, fmt.Errorf("%w: %s: nonce does not match", ErrInvalidCredentials, m.name)
	}
	authMessage := []byte(m.clientFirstBare + "," + m.serverFirst + "," + cf.withoutProof)
	clientSignature := hmacSum(m.newHash, m.creds.StoredKey, authMessage)
	ok := len(cf.proof) == len(clientSignature)
	clientKey := make([]byte, len(clientSignature))
	if ok {
		subtle.XORBytes(clientKey, cf.proof, clientSignature)
	}
	h := m.newHash()
	h.Write(clientKey)
	ok = subtle.ConstantTimeCompare(h.Sum(nil), m.creds.StoredKey) == 1 && ok
	if m.refusal != nil {
		return nil, false, m.refusal
	}
	if !ok {
		return nil, false, m.failed()
	}
	id := m.creds.Identity
	if id.Username == "" {
		id.Username = m.username
	}
	if s.id, err = s.authorize(ctx, id, m.username, m.authzid); err != nil {
		return nil, false, err
	}
	m.state = 2
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSum(m.newHash, m.creds.ServerKey, authMessage))), false, nil
}

// scramClientFirst is a parsed client-first-message (RFC 5802 §7).
type scramClientFirst struct {
	cbFlag    byte   // 'n', 'y' or 'p'
	cbName    string // with 'p'
	authzid   string
	gs2Header string
	bare      string // client-first-message-bare
	username  string
	nonce     string
}

func parseSCRAMClientFirst(msg string) (scramClientFirst, error) {
	var cf scramClientFirst
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return cf, errors.New("missing GS2 header")
	}
	switch {
	case flag == "n" || flag == "y":
		cf.cbFlag = flag[0]
	case strings.HasPrefix(flag, "p="):
		cf.cbFlag, cf.cbName = 'p', flag[2:]
		if !validCBName(cf.cbName) {
			return cf, errors.New("invalid channel binding name")
		}
	default:
		return cf, errors.New("invalid channel binding flag")
	}
	az, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return cf, errors.New("incomplete GS2 header")
	}
	if az != "" {
		if !strings.HasPrefix(az, "a=") {
			return cf, errors.New("invalid authorization identity")
		}
		var err error
		if cf.authzid, err = decodeSASLName(az[2:]); err != nil {
			return cf, fmt.Errorf("authorization identity: %w", err)
		}
	}
	cf.gs2Header = msg[:len(msg)-len(bare)]
	cf.bare = bare

	fields := strings.Split(bare, ",")
	if len(fields) < 2 {
		return cf, errors.New("missing username or nonce")
	}
	if strings.HasPrefix(fields[0], "m=") {
		return cf, errors.New("mandatory extension not supported")
	}
	if !strings.HasPrefix(fields[0], "n=") {
		return cf, errors.New("first attribute must be n=")
	}
	var err error
	if cf.username, err = decodeSASLName(fields[0][2:]); err != nil {
		return cf, fmt.Errorf("username: %w", err)
	}
	if !strings.HasPrefix(fields[1], "r=") {
		return cf, errors.New("second attribute must be r=")
	}
	cf.nonce = fields[1][2:]
	if !validSCRAMNonce(cf.nonce) {
		return cf, errors.New("invalid nonce")
	}
	if err := checkSCRAMExtensions(fields[2:]); err != nil {
		return cf, err
	}
	return cf, nil
}

// scramClientFinal is a parsed client-final-message (RFC 5802 §7).
type scramClientFinal struct {
	cbind        []byte
	nonce        string
	proof        []byte
	withoutProof string
}

func parseSCRAMClientFinal(msg string) (scramClientFinal, error) {
	var cf scramClientFinal
	fields := strings.Split(msg, ",")
	if len(fields) < 3 {
		return cf, errors.New("want c=, r= and p=")
	}
	if !strings.HasPrefix(fields[0], "c=") {
		return cf, errors.New("first attribute must be c=")
	}
	var err error
	if cf.cbind, err = base64.StdEncoding.Strict().DecodeString(fields[0][2:]); err != nil || len(cf.cbind) == 0 {
		return cf, errors.New("invalid channel binding encoding")
	}
	if !strings.HasPrefix(fields[1], "r=") {
		return cf, errors.New("second attribute must be r=")
	}
	cf.nonce = fields[1][2:]
	last := fields[len(fields)-1]
	if !strings.HasPrefix(last, "p=") {
		return cf, errors.New("last attribute must be p=")
	}
	if cf.proof, err = base64.StdEncoding.Strict().DecodeString(last[2:]); err != nil || len(cf.proof) == 0 {
		return cf, errors.New("invalid proof encoding")
	}
	if err := checkSCRAMExtensions(fields[2 : len(fields)-1]); err != nil {
		return cf, err
	}
	cf.withoutProof = msg[:len(msg)-len(last)-1]
	return cf, nil
}

// checkSCRAMExtensions checks optional extensions (attr=value after the
// nonce). RFC 5802 says unknown ones are ignored; they are signed as part
// of the AuthMessage. A repeated or misplaced standard attribute is an
// error, and so is anything that is not attr=value.
func checkSCRAMExtensions(fields []string) error {
	for _, f := range fields {
		if len(f) < 3 || f[1] != '=' || !isALPHA(f[0]) {
			return errors.New("invalid attribute")
		}
		if strings.IndexByte("acemnprsiv", f[0]) >= 0 {
			return fmt.Errorf("attribute %c= out of order", f[0])
		}
		if !utf8ValidNoNUL(f[2:]) {
			return errors.New("invalid extension value")
		}
	}
	return nil
}

// decodeSASLName decodes a saslname: "=2C" stands for "," and "=3D" for
// "="; any other "=" is an error. The result is non-empty valid UTF-8.
func decodeSASLName(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty")
	}
	if !strings.Contains(s, "=") {
		if !validName(s) {
			return "", errors.New("invalid characters")
		}
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", errors.New("invalid escape")
		}
		i += 2
	}
	out := b.String()
	if !validName(out) {
		return "", errors.New("invalid characters")
	}
	return out, nil
}

// validSCRAMNonce reports whether s is a c-nonce: printable ASCII except
// ",", bounded.
func validSCRAMNonce(s string) bool {
	if s == "" || len(s) > maxSCRAMNonce {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}

// validCBName reports whether s is a channel binding type name: 1*(ALPHA /
// DIGIT / "." / "-").
func validCBName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isALPHA(c) && !('0' <= c && c <= '9') && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isALPHA(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func utf8ValidNoNUL(s string) bool {
	return !strings.ContainsRune(s, 0) && utf8.ValidString(s)
}
