package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Parameters of the argon2id hashes [HashPassword] makes: OWASP's
// recommended minimum (19 MiB, 2 passes, 1 lane), about 40 ms on a current
// core. Mail clients log in often and in bursts (every IMAP connection of
// every device), so the cost is kept at that floor rather than at the
// 64 MiB of RFC 9106's second choice.
const (
	argon2DefaultMemory  = 19456 // KiB
	argon2DefaultTime    = 2
	argon2DefaultThreads = 1
	argon2DefaultKeyLen  = 32
	argon2DefaultSaltLen = 16
)

// Bounds on the parameters [VerifyPassword] accepts, so that a hostile or
// mistaken users file cannot make one login cost gigabytes or minutes.
const (
	argon2MaxMemory  = 256 << 10 // KiB: libsodium's "moderate" level
	argon2MaxTime    = 16
	argon2MaxThreads = 16
	argon2MinSaltLen = 8 // RFC 9106 §3.1
	argon2MaxSaltLen = 64
	argon2MinKeyLen  = 16
	argon2MaxKeyLen  = 64
	bcryptMaxCost    = 16 // about 5 s per check; 10 to 12 is usual
	bcryptMaxBytes   = 72 // bcrypt ignores what follows
	bcryptHashLen    = 60
)

// argon2MemoryBudget bounds the memory of all argon2id computations running
// at once in the process, in MiB. A burst of logins queues for it instead of
// allocating 19 MiB per attempt; at the default parameters 13 run at once,
// more than the cores of most mail servers.
const argon2MemoryBudget = 256

// argon2Memory holds one token per MiB in use by running argon2id
// computations; argon2Acquire serialises the taking of tokens, so that two
// large requests cannot each hold half the budget and wait forever.
var (
	argon2Memory  = make(chan struct{}, argon2MemoryBudget)
	argon2Acquire = make(chan struct{}, 1)
)

// argon2IDKey computes an argon2id key within the process memory budget.
func argon2IDKey(password string, salt []byte, time, memoryKiB uint32, threads uint8, keyLen uint32) []byte {
	mib := min(int((memoryKiB+1023)/1024), argon2MemoryBudget)
	argon2Acquire <- struct{}{}
	for range mib {
		argon2Memory <- struct{}{}
	}
	<-argon2Acquire
	defer func() {
		for range mib {
			<-argon2Memory
		}
	}()
	return argon2.IDKey([]byte(password), salt, time, memoryKiB, threads, keyLen)
}

// HashPassword hashes password with argon2id (RFC 9106) at 19 MiB, 2 passes
// and 1 lane (OWASP's recommendation) with a random 16-byte salt, and
// returns it in the PHC string format that [VerifyPassword], [UsersFile],
// Dovecot and libsodium read:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// where salt and hash are in standard base64 without padding.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argon2DefaultSaltLen)
	rand.Read(salt)
	key := argon2IDKey(password, salt, argon2DefaultTime, argon2DefaultMemory, argon2DefaultThreads, argon2DefaultKeyLen)
	return formatArgon2id(argon2Hash{
		memory:  argon2DefaultMemory,
		time:    argon2DefaultTime,
		threads: argon2DefaultThreads,
		salt:    salt,
		key:     key,
	}), nil
}

// HashPasswordBcrypt hashes password with bcrypt at the given cost, zero
// meaning 10, for hosts whose other tools (htpasswd, older Dovecot) need
// bcrypt; prefer [HashPassword]. It fails for a cost outside 4 to 16 and for
// a password longer than 72 bytes, the most bcrypt can take into account.
func HashPasswordBcrypt(password string, cost int) (string, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	if cost < bcrypt.MinCost || cost > bcryptMaxCost {
		return "", fmt.Errorf("auth: bcrypt cost %d outside %d to %d", cost, bcrypt.MinCost, bcryptMaxCost)
	}
	if len(password) > bcryptMaxBytes {
		return "", fmt.Errorf("auth: password longer than %d bytes cannot be hashed with bcrypt", bcryptMaxBytes)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("auth: bcrypt: %w", err)
	}
	return string(h), nil
}

// VerifyPassword reports whether password matches hash, an argon2id hash in
// PHC string format (any parameters up to 256 MiB, 16 passes and 16 lanes)
// or a bcrypt hash ($2a$, $2b$ or $2y$, cost up to 16). The comparison takes
// the same time wherever the first difference lies. A password longer than
// 72 bytes never matches a bcrypt hash, since bcrypt would ignore the rest.
//
// It returns an error, and false, when hash is malformed, exceeds the bounds
// or uses another scheme; the error does not contain the hash.
func VerifyPassword(hash, password string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		h, err := parseArgon2id(hash)
		if err != nil {
			return false, err
		}
		key := argon2IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
		return subtle.ConstantTimeCompare(key, h.key) == 1, nil
	case isBcrypt(hash):
		if err := checkBcrypt(hash); err != nil {
			return false, err
		}
		if len(password) > bcryptMaxBytes {
			return false, nil
		}
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		}
		return false, fmt.Errorf("auth: malformed bcrypt hash: %w", err)
	}
	return false, unknownScheme(hash)
}

// checkPasswordHash reports whether VerifyPassword can use hash, without
// computing anything expensive.
func checkPasswordHash(hash string) error {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		_, err := parseArgon2id(hash)
		return err
	case isBcrypt(hash):
		return checkBcrypt(hash)
	}
	return unknownScheme(hash)
}

func unknownScheme(hash string) error {
	if hash == "" {
		return errors.New("auth: empty password hash")
	}
	if scheme, _, ok := strings.Cut(strings.TrimPrefix(hash, "$"), "$"); ok && strings.HasPrefix(hash, "$") && len(scheme) <= 16 {
		return fmt.Errorf("auth: unsupported password hash scheme %q (want argon2id or bcrypt)", scheme)
	}
	return errors.New("auth: unsupported password hash format (want $argon2id$ or $2b$)")
}

// argon2Hash is a parsed argon2id PHC string.
type argon2Hash struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func formatArgon2id(h argon2Hash) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.memory, h.time, h.threads,
		base64.RawStdEncoding.EncodeToString(h.salt), base64.RawStdEncoding.EncodeToString(h.key))
}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" and checks the
// parameters against the bounds.
func parseArgon2id(s string) (argon2Hash, error) {
	malformed := func(why string) (argon2Hash, error) {
		return argon2Hash{}, fmt.Errorf("auth: malformed argon2id hash: %s", why)
	}
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 {
		return malformed("want $argon2id$v=19$m=M,t=T,p=P$SALT$HASH")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return malformed("unsupported version (want v=19)")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return malformed("want parameters m=M,t=T,p=P")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], name)
		if !ok {
			return malformed("want parameters m=M,t=T,p=P")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || (len(v) > 1 && v[0] == '0') {
			return malformed("bad parameter " + name + "...")
		}
		vals[i] = n
	}
	m, t, p := vals[0], vals[1], vals[2]
	switch {
	case p < 1 || p > argon2MaxThreads:
		return malformed(fmt.Sprintf("parallelism must be 1 to %d", argon2MaxThreads))
	case t < 1 || t > argon2MaxTime:
		return malformed(fmt.Sprintf("passes must be 1 to %d", argon2MaxTime))
	case m < 8*p || m > argon2MaxMemory:
		return malformed(fmt.Sprintf("memory must be 8×parallelism to %d KiB", argon2MaxMemory))
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil {
		return malformed("bad salt encoding")
	}
	if len(salt) < argon2MinSaltLen || len(salt) > argon2MaxSaltLen {
		return malformed(fmt.Sprintf("salt must be %d to %d bytes", argon2MinSaltLen, argon2MaxSaltLen))
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil {
		return malformed("bad hash encoding")
	}
	if len(key) < argon2MinKeyLen || len(key) > argon2MaxKeyLen {
		return malformed(fmt.Sprintf("hash must be %d to %d bytes", argon2MinKeyLen, argon2MaxKeyLen))
	}
	return argon2Hash{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, key: key}, nil
}

func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// checkBcrypt checks the shape of a bcrypt hash, "$2b$CC$" followed by 53
// characters of bcrypt's base64 alphabet, and its cost.
func checkBcrypt(s string) error {
	if len(s) != bcryptHashLen || s[6] != '$' {
		return errors.New("auth: malformed bcrypt hash")
	}
	cost, err := strconv.Atoi(s[4:6])
	if err != nil || s[4] < '0' || s[4] > '9' {
		return errors.New("auth: malformed bcrypt hash: bad cost")
	}
	if cost < bcrypt.MinCost || cost > bcryptMaxCost {
		return fmt.Errorf("auth: bcrypt cost %d outside %d to %d", cost, bcrypt.MinCost, bcryptMaxCost)
	}
	for _, c := range []byte(s[7:]) {
		if !(c == '.' || c == '/' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return errors.New("auth: malformed bcrypt hash: bad character")
		}
	}
	return nil
}
