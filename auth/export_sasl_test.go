package auth

// SessionHooks fixes the randomness of a session, for tests that replay
// published vectors (RFC 2195, RFC 5802, RFC 7677, MS-NLMP §4.2.4).
type SessionHooks struct {
	SCRAMNonce    string // server part of the SCRAM nonce
	CRAMChallenge string // the whole CRAM-MD5 challenge
	NTLMChallenge []byte // the 8-byte NTLM server challenge
}

// NewServerSessionWithHooks is NewServerSession with fixed randomness.
func NewServerSessionWithHooks(mech string, a Authenticator, opts SessionOptions, h SessionHooks) (ServerSession, error) {
	return newServerSession(mech, a, opts, &sessionHooks{
		scramNonce:    h.SCRAMNonce,
		cramChallenge: h.CRAMChallenge,
		ntlmChallenge: h.NTLMChallenge,
	})
}

// The NTLMv2 primitives, for the MS-NLMP §4.2.4 vectors.
var (
	NTOWFv2    = ntowfv2
	NTProofStr = ntProofStr
)
