package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"
)

// DefaultSCRAMIterations is the PBKDF2 iteration count [NewSCRAMCredentials]
// uses when given zero. RFC 7677 §4 asks for at least 4096.
const DefaultSCRAMIterations = 4096

// hashFunc returns the hash constructor for h.
func (h SCRAMHash) hashFunc() (func() hash.Hash, error) {
	switch h {
	case SCRAMSHA1:
		return sha1.New, nil
	case SCRAMSHA256:
		return sha256.New, nil
	}
	return nil, fmt.Errorf("auth: unknown SCRAM hash %q", string(h))
}

// NewSCRAMCredentials derives the stored SCRAM keys for password (RFC 5802
// §3): SaltedPassword = PBKDF2(password, salt, iterations), StoredKey =
// H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword,
// "Server Key"). A nil salt is replaced by 16 random bytes; zero iterations
// means [DefaultSCRAMIterations]. The password should already be normalised
// with SASLprep where that matters; mailfront passes it through unchanged.
func NewSCRAMCredentials(h SCRAMHash, password string, salt []byte, iterations int) (SCRAMCredentials, error) {
	newHash, err := h.hashFunc()
	if err != nil {
		return SCRAMCredentials{}, err
	}
	if iterations == 0 {
		iterations = DefaultSCRAMIterations
	}
	if iterations < DefaultSCRAMIterations {
		return SCRAMCredentials{}, fmt.Errorf("auth: SCRAM iteration count %d below the minimum %d", iterations, DefaultSCRAMIterations)
	}
	if salt == nil {
		salt = make([]byte, 16)
		rand.Read(salt)
	}
	salted, err := pbkdf2.Key(newHash, password, salt, iterations, newHash().Size())
	if err != nil {
		return SCRAMCredentials{}, fmt.Errorf("auth: deriving SCRAM keys: %w", err)
	}
	clientKey := hmacSum(newHash, salted, []byte("Client Key"))
	storedHash := newHash()
	storedHash.Write(clientKey)
	return SCRAMCredentials{
		Salt:       salt,
		Iterations: iterations,
		StoredKey:  storedHash.Sum(nil),
		ServerKey:  hmacSum(newHash, salted, []byte("Server Key")),
	}, nil
}

func hmacSum(newHash func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(newHash, key)
	m.Write(msg)
	return m.Sum(nil)
}
