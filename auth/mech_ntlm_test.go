package auth_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/mailfront/mailfront/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// NTLM flags the test client uses.
const (
	tUnicode  = 0x00000001
	tOEM      = 0x00000002
	tReqTgt   = 0x00000004
	tNTLM     = 0x00000200
	tAnon     = 0x00000800
	tESS      = 0x00080000
	tTgtInfo  = 0x00800000
	tVersion  = 0x02000000
	t128      = 0x20000000
	tDefaults = tUnicode | tOEM | tReqTgt | tNTLM | tESS | tVersion | t128
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func le16(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(out[2*i:], c)
	}
	return out
}

// ntlmNegotiateMsg builds a NEGOTIATE message with empty domain and
// workstation fields.
func ntlmNegotiateMsg(flags uint32) []byte {
	m := make([]byte, 32)
	copy(m, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(m[8:], 1)
	binary.LittleEndian.PutUint32(m[12:], flags)
	return m
}

// ntlmAuthenticateMsg builds an AUTHENTICATE message; names are encoded
// in UTF-16LE when flags has UNICODE, byte for byte otherwise.
func ntlmAuthenticateMsg(flags uint32, lm, nt []byte, domain, user, workstation string) []byte {
	enc := func(s string) []byte {
		if flags&tUnicode != 0 {
			return le16(s)
		}
		return []byte(s)
	}
	payloads := [][]byte{lm, nt, enc(domain), enc(user), enc(workstation), nil}
	m := make([]byte, 64)
	copy(m, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(m[8:], 3)
	off := len(m)
	for i, p := range payloads {
		f := m[12+8*i:]
		binary.LittleEndian.PutUint16(f, uint16(len(p)))
		binary.LittleEndian.PutUint16(f[2:], uint16(len(p)))
		binary.LittleEndian.PutUint32(f[4:], uint32(off))
		off += len(p)
	}
	binary.LittleEndian.PutUint32(m[60:], flags)
	for _, p := range payloads {
		m = append(m, p...)
	}
	return m
}

// ntlmChallengeInfo is what a client takes from a CHALLENGE message.
type ntlmChallengeInfo struct {
	flags      uint32
	challenge  []byte
	target     []byte
	targetInfo []byte
	av         map[uint16][]byte
}

func parseChallenge(t testing.TB, m []byte) ntlmChallengeInfo {
	t.Helper()
	require.GreaterOrEqual(t, len(m), 56)
	require.Equal(t, "NTLMSSP\x00", string(m[:8]))
	require.Equal(t, uint32(2), binary.LittleEndian.Uint32(m[8:]))
	field := func(off int) []byte {
		n := int(binary.LittleEndian.Uint16(m[off:]))
		at := int(binary.LittleEndian.Uint32(m[off+4:]))
		require.LessOrEqual(t, at+n, len(m))
		return m[at : at+n]
	}
	ci := ntlmChallengeInfo{
		flags:      binary.LittleEndian.Uint32(m[20:]),
		challenge:  m[24:32],
		target:     field(12),
		targetInfo: field(40),
		av:         map[uint16][]byte{},
	}
	for rest := ci.targetInfo; ; {
		require.GreaterOrEqual(t, len(rest), 4)
		id, n := binary.LittleEndian.Uint16(rest), int(binary.LittleEndian.Uint16(rest[2:]))
		require.GreaterOrEqual(t, len(rest), 4+n)
		if id == 0 {
			break
		}
		ci.av[id] = rest[4 : 4+n]
		rest = rest[4+n:]
	}
	return ci
}

// ntlmv2Response computes NTProofStr || blob for the given blob.
func ntlmv2Response(password, user, domain string, challenge, blob []byte) []byte {
	h := auth.NTHashOf(password)
	m := hmac.New(md5.New, h[:])
	m.Write(le16(strings.ToUpper(user) + domain))
	proof := auth.NTProofStr(m.Sum(nil), challenge, blob)
	return append(proof, blob...)
}

// ntlmBlob builds the NTLMv2 client blob (MS-NLMP §2.2.2.7).
func ntlmBlob(timestamp []byte, clientChallenge []byte, targetInfo []byte) []byte {
	blob := []byte{1, 1, 0, 0, 0, 0, 0, 0}
	blob = append(blob, timestamp...)
	blob = append(blob, clientChallenge...)
	blob = append(blob, 0, 0, 0, 0)
	blob = append(blob, targetInfo...)
	return append(blob, 0, 0, 0, 0)
}

// MS-NLMP §4.2.4 NTLMv2 vectors.
const (
	nlmpServerChallenge = "0123456789abcdef"
	nlmpNTOWFv2         = "0c868a403bfd7a93a3001ef22ef02e3f"
	nlmpTemp            = "01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000" +
		"02000c0044006f006d00610069006e00" + "01000c005300650072007600650072000000000000000000"
	nlmpNTProofStr = "68cd0ab851e51c96aabc927bebef6a1c"
	nlmpLMv2       = "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"
)

func TestNTLMv2Vectors(t *testing.T) {
	ntowf := auth.NTOWFv2(auth.NTHashOf("Password"), "User", "Domain")
	assert.Equal(t, nlmpNTOWFv2, hex.EncodeToString(ntowf))
	proof := auth.NTProofStr(ntowf, mustHex(t, nlmpServerChallenge), mustHex(t, nlmpTemp))
	assert.Equal(t, nlmpNTProofStr, hex.EncodeToString(proof))
}

func TestNTLMVectorExchange(t *testing.T) {
	dir := newSASLDirectory()
	hooks := auth.SessionHooks{NTLMChallenge: mustHex(t, nlmpServerChallenge)}
	s, err := auth.NewServerSessionWithHooks(auth.NTLM, dir, auth.SessionOptions{}, hooks)
	require.NoError(t, err)
	c, done, err := s.Next(t.Context(), nil)
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, []byte{}, c)
	c, done, err = s.Next(t.Context(), ntlmNegotiateMsg(tDefaults))
	require.NoError(t, err)
	assert.False(t, done)
	ci := parseChallenge(t, c)
	assert.Equal(t, nlmpServerChallenge, hex.EncodeToString(ci.challenge))

	nt := append(mustHex(t, nlmpNTProofStr), mustHex(t, nlmpTemp)...)
	msg := ntlmAuthenticateMsg(tDefaults&^tOEM, mustHex(t, nlmpLMv2), nt, "Domain", "User", "COMPUTER")
	_, done, err = s.Next(t.Context(), msg)
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, "User", s.Identity().Username)
	assert.Equal(t, "User", s.Username())
}

func TestNTLMChallengeMessage(t *testing.T) {
	opts := auth.SessionOptions{Transport: auth.Transport{ServerName: "mail.example.org"}}
	s := saslStart(t, auth.NTLM, newSASLDirectory(), opts)
	c, _, err := s.Next(t.Context(), ntlmNegotiateMsg(tDefaults))
	require.NoError(t, err)
	ci := parseChallenge(t, c)
	for _, f := range []uint32{tUnicode, tReqTgt, tNTLM, tESS, tTgtInfo, tVersion, t128} {
		assert.NotZero(t, ci.flags&f, "flag %#x", f)
	}
	assert.Zero(t, ci.flags&tOEM, "UNICODE chosen over OEM")
	assert.Equal(t, le16("EXAMPLE"), ci.target)
	assert.Equal(t, le16("MAIL"), ci.av[1])
	assert.Equal(t, le16("EXAMPLE"), ci.av[2])
	assert.Equal(t, le16("mail.example.org"), ci.av[3])
	assert.Equal(t, le16("example.org"), ci.av[4])
	assert.Len(t, ci.av[7], 8, "timestamp")

	s2 := saslStart(t, auth.NTLM, newSASLDirectory(), opts)
	c2, _, err := s2.Next(t.Context(), ntlmNegotiateMsg(tDefaults))
	require.NoError(t, err)
	assert.NotEqual(t, ci.challenge, parseChallenge(t, c2).challenge, "challenges are random")

	s3 := saslStart(t, auth.NTLM, newSASLDirectory(), opts)
	c3, _, err := s3.Next(t.Context(), ntlmNegotiateMsg(tOEM|tNTLM|tReqTgt))
	require.NoError(t, err)
	ci3 := parseChallenge(t, c3)
	assert.NotZero(t, ci3.flags&tOEM)
	assert.Zero(t, ci3.flags&tUnicode)
	assert.Equal(t, []byte("EXAMPLE"), ci3.target)
}

// ntlmLogin runs a whole exchange as a client with the given password.
func ntlmLogin(t *testing.T, dir auth.Authenticator, flags uint32, user, domain, password string) (auth.ServerSession, error) {
	s := saslStart(t, auth.NTLM, dir, auth.SessionOptions{Transport: auth.Transport{ServerName: "mail.example.org"}})
	c, _, err := s.Next(t.Context(), ntlmNegotiateMsg(flags))
	require.NoError(t, err)
	ci := parseChallenge(t, c)
	blob := ntlmBlob(ci.av[7], []byte("clientch"), ci.targetInfo)
	nt := ntlmv2Response(password, user, domain, ci.challenge, blob)
	_, done, err := s.Next(t.Context(), ntlmAuthenticateMsg(flags, make([]byte, 24), nt, domain, user, "WS"))
	if err == nil && !done {
		t.Fatal("no error and not done")
	}
	return s, err
}

func TestNTLMExchange(t *testing.T) {
	dir := newSASLDirectory()
	t.Run("unicode", func(t *testing.T) {
		s, err := ntlmLogin(t, dir, tDefaults, "alice@example.org", "EXAMPLE", "correct horse")
		require.NoError(t, err)
		assert.Equal(t, "alice@example.org", s.Identity().Username)
	})
	t.Run("OEM", func(t *testing.T) {
		s, err := ntlmLogin(t, dir, tOEM|tNTLM|tReqTgt, "tim", "", "tanstaaftanstaaf")
		require.NoError(t, err)
		assert.Equal(t, "tim", s.Identity().Username)
	})
	t.Run("wrong password and unknown user alike", func(t *testing.T) {
		s, wrong := ntlmLogin(t, dir, tDefaults, "tim", "", "wrong")
		assert.ErrorIs(t, wrong, auth.ErrInvalidCredentials)
		assert.Equal(t, auth.Identity{}, s.Identity())
		_, unknown := ntlmLogin(t, dir, tDefaults, "nosuch", "", "wrong")
		assert.ErrorIs(t, unknown, auth.ErrInvalidCredentials)
		assert.Equal(t, wrong.Error(), unknown.Error())
	})
}

func TestNTLMRefused(t *testing.T) {
	dir := newSASLDirectory()
	start := func(t *testing.T) (auth.ServerSession, ntlmChallengeInfo) {
		s := saslStart(t, auth.NTLM, dir, auth.SessionOptions{})
		c, _, err := s.Next(t.Context(), ntlmNegotiateMsg(tDefaults))
		require.NoError(t, err)
		return s, parseChallenge(t, c)
	}
	tests := []struct {
		name    string
		msg     func(ci ntlmChallengeInfo) []byte
		wantErr error
	}{
		{"NTLMv1", func(ci ntlmChallengeInfo) []byte {
			return ntlmAuthenticateMsg(tDefaults, make([]byte, 24), bytes.Repeat([]byte{7}, 24), "", "tim", "WS")
		}, auth.ErrInvalidCredentials},
		{"LM only", func(ci ntlmChallengeInfo) []byte {
			return ntlmAuthenticateMsg(tDefaults, bytes.Repeat([]byte{7}, 24), nil, "", "tim", "WS")
		}, auth.ErrInvalidCredentials},
		{"anonymous", func(ci ntlmChallengeInfo) []byte {
			return ntlmAuthenticateMsg(tDefaults|tAnon, []byte{0}, nil, "", "", "")
		}, auth.ErrInvalidCredentials},
		{"anonymous flag with a user", func(ci ntlmChallengeInfo) []byte {
			nt := ntlmv2Response("tanstaaftanstaaf", "tim", "", ci.challenge, ntlmBlob(ci.av[7], []byte("clientch"), ci.targetInfo))
			return ntlmAuthenticateMsg(tDefaults|tAnon, nil, nt, "", "tim", "WS")
		}, auth.ErrInvalidCredentials},
		{"short NTLMv2 response", func(ci ntlmChallengeInfo) []byte {
			return ntlmAuthenticateMsg(tDefaults, nil, make([]byte, 40), "", "tim", "WS")
		}, auth.ErrMalformed},
		{"unknown blob version", func(ci ntlmChallengeInfo) []byte {
			blob := ntlmBlob(ci.av[7], []byte("clientch"), ci.targetInfo)
			blob[0] = 2
			return ntlmAuthenticateMsg(tDefaults, nil, ntlmv2Response("tanstaaftanstaaf", "tim", "", ci.challenge, blob), "", "tim", "WS")
		}, auth.ErrMalformed},
		{"odd UTF-16 user", func(ci ntlmChallengeInfo) []byte {
			m := ntlmAuthenticateMsg(tDefaults, nil, make([]byte, 60), "", "tim", "WS")
			binary.LittleEndian.PutUint16(m[36:], 5) // user length
			return m
		}, auth.ErrMalformed},
		{"unpaired surrogate", func(ci ntlmChallengeInfo) []byte {
			m := ntlmAuthenticateMsg(tDefaults, nil, make([]byte, 60), "", "ti", "WS")
			at := binary.LittleEndian.Uint32(m[40:])
			binary.LittleEndian.PutUint16(m[at:], 0xd800)
			return m
		}, auth.ErrMalformed},
		{"field outside the message", func(ci ntlmChallengeInfo) []byte {
			m := ntlmAuthenticateMsg(tDefaults, nil, make([]byte, 60), "", "tim", "WS")
			binary.LittleEndian.PutUint32(m[24:], 0xffffffff) // NT offset
			return m
		}, auth.ErrMalformed},
		{"length past the end", func(ci ntlmChallengeInfo) []byte {
			m := ntlmAuthenticateMsg(tDefaults, nil, make([]byte, 60), "", "tim", "WS")
			binary.LittleEndian.PutUint16(m[20:], 0xffff) // NT length
			return m
		}, auth.ErrMalformed},
		{"NEGOTIATE again", func(ci ntlmChallengeInfo) []byte { return ntlmNegotiateMsg(tDefaults) }, auth.ErrMalformed},
		{"bad signature", func(ci ntlmChallengeInfo) []byte {
			m := ntlmAuthenticateMsg(tDefaults, nil, make([]byte, 60), "", "tim", "WS")
			m[0] = 'X'
			return m
		}, auth.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ci := start(t)
			_, done, err := s.Next(t.Context(), tt.msg(ci))
			assert.ErrorIs(t, err, tt.wantErr)
			assert.False(t, done)
			assert.Equal(t, auth.Identity{}, s.Identity())
		})
	}
}

func TestNTLMTruncated(t *testing.T) {
	dir := newSASLDirectory()
	neg := ntlmNegotiateMsg(tDefaults)
	for n := 0; n < len(neg); n++ {
		if n == 16 {
			continue // the short form without domain and workstation fields
		}
		s := saslStart(t, auth.NTLM, dir, auth.SessionOptions{})
		_, _, err := s.Next(t.Context(), neg[:n])
		assert.ErrorIs(t, err, auth.ErrMalformed, "NEGOTIATE truncated to %d", n)
	}
	s := saslStart(t, auth.NTLM, dir, auth.SessionOptions{})
	_, _, err := s.Next(t.Context(), neg[:16])
	assert.NoError(t, err, "16-byte NEGOTIATE")

	full := ntlmAuthenticateMsg(tDefaults, make([]byte, 24), make([]byte, 80), "DOMAIN", "tim", "WS")
	for n := 0; n < len(full); n++ {
		s := saslStart(t, auth.NTLM, dir, auth.SessionOptions{})
		_, _, err := s.Next(t.Context(), neg)
		require.NoError(t, err)
		_, done, err := s.Next(t.Context(), full[:n])
		assert.ErrorIs(t, err, auth.ErrMalformed, "AUTHENTICATE truncated to %d", n)
		assert.False(t, done)
	}
	assert.Zero(t, dir.calls.Load(), "the directory is never asked for a truncated message")
}
