package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// cramDummySecret is the secret an unknown user's digest is checked
// against, so that the server does the same work as for a known one.
var cramDummySecret = sync.OnceValue(func() []byte {
	b := make([]byte, 16)
	rand.Read(b)
	return b
})

// cramMech is CRAM-MD5 (RFC 2195): the server sends
// <random.unixtime@servername>, the client answers "user SP hexdigest" with
// digest = HMAC-MD5(secret, challenge).
type cramMech struct {
	challenge []byte
}

func (m *cramMech) step(ctx context.Context, s *saslSession, resp []byte, first bool) ([]byte, bool, error) {
	if first {
		if resp != nil {
			// CRAM-MD5 starts with the server: an initial response is a
			// protocol error (RFC 4954 §4).
			return nil, false, malformed(CRAMMD5, "unexpected initial response")
		}
		m.challenge = []byte(cramChallenge(s))
		return m.challenge, false, nil
	}
	sp := bytes.LastIndexByte(resp, ' ')
	if sp < 0 {
		return nil, false, malformed(CRAMMD5, "want user SP digest")
	}
	user, hexDigest := string(resp[:sp]), resp[sp+1:]
	if user == "" || !validName(user) {
		return nil, false, malformed(CRAMMD5, "empty or invalid username")
	}
	if len(hexDigest) != 2*md5.Size {
		return nil, false, malformed(CRAMMD5, "digest must be %d hex digits", 2*md5.Size)
	}
	digest := make([]byte, md5.Size)
	if _, err := hex.Decode(digest, hexDigest); err != nil {
		return nil, false, malformed(CRAMMD5, "digest is not hex")
	}
	if err := s.claim(ctx, user); err != nil {
		return nil, false, err
	}
	store := s.a.(SecretStore) // NewServerSession checked
	secret, id, err := store.Secret(ctx, user)
	known := err == nil
	key := []byte(secret)
	if err != nil {
		if !errors.Is(err, ErrInvalidCredentials) {
			return nil, false, fmt.Errorf("auth: CRAM-MD5: %w", err)
		}
		key = cramDummySecret()
	}
	mac := hmac.New(md5.New, key)
	mac.Write(m.challenge)
	ok := hmac.Equal(mac.Sum(nil), digest)
	if !ok || !known {
		return nil, false, errCRAMFailed
	}
	if id.Username == "" {
		id.Username = user
	}
	s.id = id
	return nil, true, nil
}

// errCRAMFailed is the one error a failed CRAM-MD5 exchange returns,
// whether the user is unknown or the digest wrong.
var errCRAMFailed = fmt.Errorf("auth: CRAM-MD5: %w", ErrInvalidCredentials)

// cramChallenge returns a fresh challenge in the RFC 2195 form
// <random.unixtime@servername>.
func cramChallenge(s *saslSession) string {
	if s.hooks != nil && s.hooks.cramChallenge != "" {
		return s.hooks.cramChallenge
	}
	var b [8]byte
	rand.Read(b[:])
	r := binary.BigEndian.Uint64(b[:]) >> 1
	return fmt.Sprintf("<%d.%d@%s>", r, time.Now().Unix(), serverName(s.opts.Transport))
}
