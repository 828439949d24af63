package auth

import (
	"context"
	"fmt"
)

// The LOGIN mechanism's prompts (draft-murchison-sasl-login).
var (
	loginUsernamePrompt = []byte("Username:")
	loginPasswordPrompt = []byte("Password:")
)

// loginMech is the obsolete but ubiquitous LOGIN mechanism: the server asks
// "Username:" and "Password:", the client answers each. An initial
// response, when there is one, is the username.
type loginMech struct {
	username string
	asked    bool // the password prompt was sent
}

func (m *loginMech) step(ctx context.Context, s *saslSession, resp []byte, first bool) ([]byte, bool, error) {
	if first {
		if len(resp) == 0 {
			// No initial response (or an empty one, which some clients
			// send to mean none): ask for the username.
			return loginUsernamePrompt, false, nil
		}
		return m.takeUsername(s, resp)
	}
	if !m.asked {
		return m.takeUsername(s, resp)
	}
	passwd := string(resp)
	if !validSecret(passwd) {
		return nil, false, malformed(Login, "empty or invalid password")
	}
	if err := s.claim(ctx, m.username); err != nil {
		return nil, false, err
	}
	id, err := s.a.Authenticate(ctx, m.username, passwd)
	if err != nil {
		return nil, false, fmt.Errorf("auth: LOGIN: %w", err)
	}
	s.id = id
	return nil, true, nil
}

func (m *loginMech) takeUsername(s *saslSession, resp []byte) ([]byte, bool, error) {
	u := string(resp)
	if u == "" || !validName(u) {
		return nil, false, malformed(Login, "empty or invalid username")
	}
	m.username = u
	s.username = u
	m.asked = true
	return loginPasswordPrompt, false, nil
}
