package auth

import (
	"bytes"
	"context"
	"fmt"
)

// plainMech is PLAIN (RFC 4616): one message, [authzid] NUL authcid NUL
// passwd, checked with Authenticator.Authenticate.
type plainMech struct{}

func (m *plainMech) step(ctx context.Context, s *saslSession, resp []byte, first bool) ([]byte, bool, error) {
	if first && resp == nil {
		// No initial response: ask for it with an empty challenge.
		return nil, false, nil
	}
	authzid, authcid, passwd, err := parsePlain(resp)
	if err != nil {
		return nil, false, err
	}
	if err := s.claim(ctx, authcid); err != nil {
		return nil, false, err
	}
	id, err := s.a.Authenticate(ctx, authcid, passwd)
	if err != nil {
		return nil, false, fmt.Errorf("auth: PLAIN: %w", err)
	}
	if id.Username == "" {
		id.Username = authcid
	}
	if s.id, err = s.authorize(ctx, id, authcid, authzid); err != nil {
		return nil, false, err
	}
	return nil, true, nil
}

// parsePlain splits a PLAIN message strictly: exactly two NULs, a non-empty
// authcid and passwd, valid UTF-8 throughout, bounded lengths.
func parsePlain(msg []byte) (authzid, authcid, passwd string, err error) {
	if bytes.Count(msg, []byte{0}) != 2 {
		return "", "", "", malformed(Plain, "want exactly two NUL separators")
	}
	z, rest, _ := bytes.Cut(msg, []byte{0})
	c, p, _ := bytes.Cut(rest, []byte{0})
	authzid, authcid, passwd = string(z), string(c), string(p)
	switch {
	case authcid == "":
		return "", "", "", malformed(Plain, "empty authentication identity")
	case !validName(authcid) || !validName(authzid):
		return "", "", "", malformed(Plain, "invalid identity")
	case !validSecret(passwd):
		return "", "", "", malformed(Plain, "empty or invalid password")
	}
	return authzid, authcid, passwd, nil
}
