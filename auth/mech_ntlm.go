package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// maxNTLMMessage bounds an NTLM message. An AUTHENTICATE message carries
// the names, the NTLMv2 blob (the server's target info plus a few client
// AV pairs) and a MIC: well under 4 KiB in practice.
const maxNTLMMessage = 8 << 10

// NTLM negotiate flags (MS-NLMP §2.2.2.5).
const (
	ntlmNegotiateUnicode                 = 0x00000001
	ntlmNegotiateOEM                     = 0x00000002
	ntlmRequestTarget                    = 0x00000004
	ntlmNegotiateNTLM                    = 0x00000200
	ntlmNegotiateAnonymous               = 0x00000800
	ntlmNegotiateAlwaysSign              = 0x00008000
	ntlmTargetTypeDomain                 = 0x00010000
	ntlmNegotiateExtendedSessionSecurity = 0x00080000
	ntlmNegotiateTargetInfo              = 0x00800000
	ntlmNegotiateVersion                 = 0x02000000
	ntlmNegotiate128                     = 0x20000000
	ntlmNegotiate56                      = 0x80000000
)

// NTLM AV pair identifiers (MS-NLMP §2.2.2.1).
const (
	ntlmAvEOL             = 0
	ntlmAvNbComputerName  = 1
	ntlmAvNbDomainName    = 2
	ntlmAvDNSComputerName = 3
	ntlmAvDNSDomainName   = 4
	ntlmAvTimestamp       = 7
)

var ntlmSignature = []byte("NTLMSSP\x00")

// ntlmVersion is the Version structure the CHALLENGE message carries when
// the client asks for one: Windows 10.0 build 17763, NTLMSSP revision 15.
var ntlmVersion = [8]byte{10, 0, 0x63, 0x45, 0, 0, 0, 15}

// ntlmDummyHash is the NT hash an unknown user's response is checked
// against, so that the server does the same work as for a known one.
var ntlmDummyHash = sync.OnceValue(func() (h [16]byte) {
	rand.Read(h[:])
	return h
})

// ntlmMech is NTLM (MS-NLMP) with NTLMv2 responses only: NEGOTIATE, then
// our CHALLENGE, then the client's AUTHENTICATE, verified against the
// user's NT hash from an [NTHashStore]. LM, NTLMv1 and anonymous
// authentication are refused. No session security (signing, sealing) is
// negotiated: the mail protocols carry only the authentication.
type ntlmMech struct {
	state     int // 0: want NEGOTIATE; 1: want AUTHENTICATE
	challenge [8]byte
}

func (m *ntlmMech) step(ctx context.Context, s *saslSession, resp []byte, first bool) ([]byte, bool, error) {
	if m.state == 0 {
		if first && resp == nil {
			return nil, false, nil
		}
		flags, err := parseNTLMNegotiate(resp)
		if err != nil {
			return nil, false, err
		}
		if s.hooks != nil && len(s.hooks.ntlmChallenge) == 8 {
			copy(m.challenge[:], s.hooks.ntlmChallenge)
		} else {
			rand.Read(m.challenge[:])
		}
		m.state = 1
		return buildNTLMChallenge(flags, m.challenge, serverName(s.opts.Transport), time.Now()), false, nil
	}
	am, err := parseNTLMAuthenticate(resp)
	if err != nil {
		return nil, false, err
	}
	switch {
	case am.flags&ntlmNegotiateAnonymous != 0 || len(am.user) == 0:
		return nil, false, fmt.Errorf("%w: NTLM: anonymous authentication refused", ErrInvalidCredentials)
	case len(am.nt) == 0:
		return nil, false, fmt.Errorf("%w: NTLM: LM authentication refused", ErrInvalidCredentials)
	case len(am.nt) == 24:
		return nil, false, fmt.Errorf("%w: NTLM: NTLMv1 authentication refused", ErrInvalidCredentials)
	case len(am.nt) < 16+28:
		return nil, false, malformed(NTLM, "NT response too short")
	}
	blob := am.nt[16:]
	if blob[0] != 1 || blob[1] != 1 {
		return nil, false, malformed(NTLM, "unknown NTLMv2 response version")
	}
	unicode := am.flags&ntlmNegotiateUnicode != 0
	user, err := ntlmString(am.user, unicode)
	if err != nil || !validName(user) {
		return nil, false, malformed(NTLM, "invalid user name")
	}
	domain, err := ntlmString(am.domain, unicode)
	if err != nil || !validName(domain) {
		return nil, false, malformed(NTLM, "invalid domain name")
	}
	if err := s.claim(ctx, user); err != nil {
		return nil, false, err
	}
	store := s.a.(NTHashStore) // NewServerSession checked
	hash, id, err := store.NTHash(ctx, user, domain)
	known := err == nil
	if err != nil {
		if !errors.Is(err, ErrInvalidCredentials) {
			return nil, false, fmt.Errorf("auth: NTLM: %w", err)
		}
		hash = ntlmDummyHash()
	}
	proof := ntProofStr(ntowfv2(hash, user, domain), m.challenge[:], blob)
	if !hmac.Equal(proof, am.nt[:16]) || !known {
		return nil, false, errNTLMFailed
	}
	if id.Username == "" {
		id.Username = user
	}
	s.id = id
	return nil, true, nil
}

// errNTLMFailed is the one error a failed NTLM exchange returns, whether
// the user is unknown or the response wrong.
var errNTLMFailed = fmt.Errorf("auth: NTLM: %w", ErrInvalidCredentials)

// ntowfv2 returns NTOWFv2 = HMAC-MD5(NT hash, UTF-16LE(UPPER(user) + domain))
// (MS-NLMP §3.3.2).
func ntowfv2(ntHash [16]byte, user, domain string) []byte {
	mac := hmac.New(md5.New, ntHash[:])
	mac.Write(utf16LE(strings.ToUpper(user) + domain))
	return mac.Sum(nil)
}

// ntProofStr returns HMAC-MD5(NTOWFv2, serverChallenge || blob), the first
// 16 bytes of an NTLMv2 response (MS-NLMP §3.3.2).
func ntProofStr(ntowf, serverChallenge, blob []byte) []byte {
	mac := hmac.New(md5.New, ntowf)
	mac.Write(serverChallenge)
	mac.Write(blob)
	return mac.Sum(nil)
}

// parseNTLMNegotiate checks a NEGOTIATE message (MS-NLMP §2.2.1.1) and
// returns its flags. The optional domain and workstation fields must lie
// inside the message; their content is not used.
func parseNTLMNegotiate(msg []byte) (uint32, error) {
	if len(msg) < 16 || !bytes.Equal(msg[:8], ntlmSignature) || le32(msg[8:]) != 1 {
		return 0, malformed(NTLM, "not a NEGOTIATE message")
	}
	flags := le32(msg[12:])
	if len(msg) > 16 {
		if len(msg) < 32 {
			return 0, malformed(NTLM, "truncated NEGOTIATE message")
		}
		for _, off := range []int{16, 24} {
			if _, err := ntlmField(msg, off); err != nil {
				return 0, err
			}
		}
	}
	if flags&(ntlmNegotiateUnicode|ntlmNegotiateOEM) == 0 {
		return 0, malformed(NTLM, "no character set negotiated")
	}
	return flags, nil
}

// buildNTLMChallenge returns a CHALLENGE message (MS-NLMP §2.2.1.2)
// answering a NEGOTIATE with flags clientFlags.
func buildNTLMChallenge(clientFlags uint32, challenge [8]byte, host string, now time.Time) []byte {
	flags := uint32(ntlmRequestTarget | ntlmNegotiateNTLM | ntlmNegotiateTargetInfo | ntlmTargetTypeDomain)
	unicode := clientFlags&ntlmNegotiateUnicode != 0
	if unicode {
		flags |= ntlmNegotiateUnicode
	} else {
		flags |= ntlmNegotiateOEM
	}
	flags |= clientFlags & (ntlmNegotiateExtendedSessionSecurity | ntlmNegotiateAlwaysSign |
		ntlmNegotiate128 | ntlmNegotiate56 | ntlmNegotiateVersion)

	computer, dnsDomain, _ := strings.Cut(host, ".")
	if dnsDomain == "" {
		dnsDomain = host
	}
	nbComputer := netbiosName(computer)
	nbDomain := netbiosName(strings.SplitN(dnsDomain, ".", 2)[0])

	var info []byte
	avPair := func(id uint16, value []byte) {
		info = binary.LittleEndian.AppendUint16(info, id)
		info = binary.LittleEndian.AppendUint16(info, uint16(len(value)))
		info = append(info, value...)
	}
	avPair(ntlmAvNbDomainName, utf16LE(nbDomain))
	avPair(ntlmAvNbComputerName, utf16LE(nbComputer))
	avPair(ntlmAvDNSDomainName, utf16LE(dnsDomain))
	avPair(ntlmAvDNSComputerName, utf16LE(host))
	avPair(ntlmAvTimestamp, binary.LittleEndian.AppendUint64(nil, fileTime(now)))
	avPair(ntlmAvEOL, nil)

	target := []byte(nbDomain)
	if unicode {
		target = utf16LE(nbDomain)
	}

	const header = 56
	msg := make([]byte, header, header+len(target)+len(info))
	copy(msg, ntlmSignature)
	binary.LittleEndian.PutUint32(msg[8:], 2)
	putNTLMField(msg[12:], len(target), header)
	binary.LittleEndian.PutUint32(msg[20:], flags)
	copy(msg[24:32], challenge[:])
	putNTLMField(msg[40:], len(info), header+len(target))
	if flags&ntlmNegotiateVersion != 0 {
		copy(msg[48:56], ntlmVersion[:])
	}
	msg = append(msg, target...)
	msg = append(msg, info...)
	return msg
}

// ntlmAuthenticate is a parsed AUTHENTICATE message (MS-NLMP §2.2.1.3).
type ntlmAuthenticate struct {
	lm, nt       []byte
	domain, user []byte
	flags        uint32
}

func parseNTLMAuthenticate(msg []byte) (ntlmAuthenticate, error) {
	var am ntlmAuthenticate
	if len(msg) < 64 || !bytes.Equal(msg[:8], ntlmSignature) || le32(msg[8:]) != 3 {
		return am, malformed(NTLM, "not an AUTHENTICATE message")
	}
	fields := make([][]byte, 6)
	for i := range fields {
		f, err := ntlmField(msg, 12+8*i)
		if err != nil {
			return am, err
		}
		fields[i] = f
	}
	am.lm, am.nt, am.domain, am.user = fields[0], fields[1], fields[2], fields[3]
	am.flags = le32(msg[60:])
	return am, nil
}

// ntlmField returns the payload a (length, max length, offset) field at
// off describes, checking that it lies inside msg.
func ntlmField(msg []byte, off int) ([]byte, error) {
	if off+8 > len(msg) {
		return nil, malformed(NTLM, "truncated message")
	}
	n := uint64(binary.LittleEndian.Uint16(msg[off:]))
	at := uint64(le32(msg[off+4:]))
	if n == 0 {
		return nil, nil
	}
	if at+n > uint64(len(msg)) {
		return nil, malformed(NTLM, "field outside the message")
	}
	return msg[at : at+n], nil
}

func putNTLMField(b []byte, n, off int) {
	binary.LittleEndian.PutUint16(b[0:], uint16(n))
	binary.LittleEndian.PutUint16(b[2:], uint16(n))
	binary.LittleEndian.PutUint32(b[4:], uint32(off))
}

// ntlmString decodes a name: UTF-16LE when Unicode was negotiated, the OEM
// character set (taken as Latin-1) otherwise.
func ntlmString(b []byte, unicode bool) (string, error) {
	if !unicode {
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r), nil
	}
	if len(b)%2 != 0 {
		return "", errors.New("odd UTF-16 length")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	for i := 0; i < len(u); i++ {
		switch {
		case u[i] < 0xd800 || u[i] >= 0xe000:
		case u[i] < 0xdc00 && i+1 < len(u) && u[i+1] >= 0xdc00 && u[i+1] < 0xe000:
			i++
		default:
			return "", errors.New("unpaired UTF-16 surrogate")
		}
	}
	return string(utf16.Decode(u)), nil
}

func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// netbiosName turns a DNS label into a NetBIOS name: upper case, at most
// 15 characters.
func netbiosName(label string) string {
	n := strings.ToUpper(label)
	if len(n) > 15 {
		n = n[:15]
	}
	return n
}

// fileTime returns t as a Windows FILETIME: 100 ns intervals since 1601.
func fileTime(t time.Time) uint64 {
	const epochDelta = 116444736000000000 // 1601-01-01 to 1970-01-01 in 100 ns
	return uint64(t.UnixNano()/100) + epochDelta
}

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
