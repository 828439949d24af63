package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// The error challenges sent after a rejected token. OAUTHBEARER's follows
// RFC 7628 §3.2.2; XOAUTH2's is the one Google's servers send.
var (
	oauthBearerErrorChallenge = []byte(`{"status":"invalid_token","schemes":"bearer"}`)
	xoauth2ErrorChallenge     = []byte(`{"status":"401","schemes":"Bearer"}`)
)

// oauthExchange is the part OAUTHBEARER and XOAUTH2 share: verify the
// token, and on rejection send an error challenge and fail once the client
// has answered it.
type oauthExchange struct {
	rejected error // the verifier's error, once the error challenge is out
}

func (o *oauthExchange) verify(ctx context.Context, s *saslSession, mech, user, token string, errChallenge []byte) ([]byte, bool, error) {
	if err := s.claim(ctx, user); err != nil {
		return nil, false, err
	}
	v := s.a.(TokenVerifier) // NewServerSession checked
	id, err := v.VerifyToken(ctx, user, token)
	if err != nil {
		err = fmt.Errorf("auth: %s: %w", mech, err)
		if !errors.Is(err, ErrInvalidCredentials) {
			return nil, false, err
		}
		o.rejected = err
		return errChallenge, false, nil
	}
	s.id = id
	return nil, true, nil
}

// oauthBearerMech is OAUTHBEARER (RFC 7628).
type oauthBearerMech struct{ oauthExchange }

func (m *oauthBearerMech) step(ctx context.Context, s *saslSession, resp []byte, first bool) ([]byte, bool, error) {
	if m.rejected != nil {
		// The client acknowledges the error challenge (with a lone
		// %x01); whatever it sent, the exchange fails.
		return nil, false, m.rejected
	}
	if first && resp == nil {
		return nil, false, nil
	}
	authzid, token, err := parseOAuthBearer(resp)
	if err != nil {
		return nil, false, err
	}
	return m.verify(ctx, s, OAuthBearer, authzid, token, oauthBearerErrorChallenge)
}

// parseOAuthBearer parses an OAUTHBEARER client response (RFC 7628 §3.1):
// gs2-header kvsep *(key "=" value kvsep) kvsep, with a mandatory
// auth=Bearer token pair. Channel binding is not supported.
func parseOAuthBearer(msg []byte) (authzid, token string, err error) {
	bad := func(what string) (string, string, error) { return "", "", malformed(OAuthBearer, "%s", what) }
	flag, rest, ok := bytes.Cut(msg, []byte(","))
	if !ok || (string(flag) != "n" && string(flag) != "y") {
		return bad("invalid GS2 header")
	}
	az, rest, ok := bytes.Cut(rest, []byte(","))
	if !ok {
		return bad("incomplete GS2 header")
	}
	if len(az) > 0 {
		if !bytes.HasPrefix(az, []byte("a=")) {
			return bad("invalid authorization identity")
		}
		if authzid, err = decodeSASLName(string(az[2:])); err != nil {
			return bad("invalid authorization identity")
		}
	}
	if len(rest) < 2 || rest[0] != 1 || rest[len(rest)-1] != 1 {
		return bad("missing key-value separators")
	}
	pairs := rest[1 : len(rest)-1]
	seen := map[string]bool{}
	for len(pairs) > 0 {
		var kv []byte
		if kv, pairs, ok = bytes.Cut(pairs, []byte{1}); !ok {
			return bad("unterminated key-value pair")
		}
		k, v, ok := bytes.Cut(kv, []byte("="))
		if !ok || !validOAuthKey(k) || !validOAuthValue(v) {
			return bad("invalid key-value pair")
		}
		if seen[string(k)] {
			return bad("repeated key")
		}
		seen[string(k)] = true
		if string(k) == "auth" {
			if token, ok = bearerToken(string(v)); !ok {
				return bad("auth is not a bearer token")
			}
		}
	}
	if token == "" {
		return bad("missing auth")
	}
	return authzid, token, nil
}

// xoauth2Mech is Google's XOAUTH2:
// "user=" user %x01 "auth=Bearer " token %x01 %x01.
type xoauth2Mech struct{ oauthExchange }

func (m *xoauth2Mech) step(ctx context.Context, s *saslSession, resp []byte, first bool) ([]byte, bool, error) {
	if m.rejected != nil {
		// The client answers the error challenge with an empty
		// response; the exchange fails whatever it sent.
		return nil, false, m.rejected
	}
	if first && resp == nil {
		return nil, false, nil
	}
	user, token, err := parseXOAuth2(resp)
	if err != nil {
		return nil, false, err
	}
	return m.verify(ctx, s, XOAuth2, user, token, xoauth2ErrorChallenge)
}

// parseXOAuth2 parses an XOAUTH2 client response.
func parseXOAuth2(msg []byte) (user, token string, err error) {
	bad := func(what string) (string, string, error) { return "", "", malformed(XOAuth2, "%s", what) }
	body, ok := bytes.CutSuffix(msg, []byte{1, 1})
	if !ok {
		return bad("missing terminator")
	}
	u, a, ok := bytes.Cut(body, []byte{1})
	if !ok || bytes.IndexByte(a, 1) >= 0 {
		return bad("want user and auth")
	}
	uv, ok := bytes.CutPrefix(u, []byte("user="))
	if !ok {
		return bad("missing user")
	}
	user = string(uv)
	if user == "" || !validName(user) {
		return bad("empty or invalid user")
	}
	av, ok := bytes.CutPrefix(a, []byte("auth="))
	if !ok || !validOAuthValue(av) {
		return bad("missing auth")
	}
	if token, ok = bearerToken(string(av)); !ok {
		return bad("auth is not a bearer token")
	}
	return user, token, nil
}

// bearerToken extracts the token from "Bearer" 1*SP b64token (RFC 6750
// §2.1); the scheme is case-insensitive.
func bearerToken(v string) (string, bool) {
	if len(v) < 7 || !strings.EqualFold(v[:6], "Bearer") || v[6] != ' ' {
		return "", false
	}
	tok := strings.TrimLeft(v[6:], " ")
	if !validB64Token(tok) {
		return "", false
	}
	return tok, true
}

// validB64Token reports whether s is a b64token: 1*( ALPHA / DIGIT / "-" /
// "." / "_" / "~" / "+" / "/" ) *"=".
func validB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !isALPHA(c) && !('0' <= c && c <= '9') && strings.IndexByte("-._~+/", c) < 0 {
			return false
		}
	}
	return true
}

// validOAuthKey reports whether k is 1*ALPHA.
func validOAuthKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if !isALPHA(c) {
			return false
		}
	}
	return true
}

// validOAuthValue reports whether v is *(VCHAR / SP / HTAB / CR / LF).
func validOAuthValue(v []byte) bool {
	for _, c := range v {
		if (c < 0x21 || c > 0x7e) && c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}
