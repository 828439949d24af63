package auth

import (
	"context"
	"fmt"
)

// externalMech is EXTERNAL (RFC 4422 Appendix A) over a TLS client
// certificate: the client's only message is the authorization identity it
// asks for, possibly empty, and the [CertificateMapper] decides.
type externalMech struct{}

func (m *externalMech) step(ctx context.Context, s *saslSession, resp []byte, first bool) ([]byte, bool, error) {
	if first && resp == nil {
		return nil, false, nil
	}
	authzid := string(resp)
	if !validName(authzid) {
		return nil, false, malformed(External, "invalid authorization identity")
	}
	t := s.opts.Transport
	if t.TLS == nil || len(t.TLS.VerifiedChains) == 0 || len(t.TLS.VerifiedChains[0]) == 0 {
		return nil, false, fmt.Errorf("auth: EXTERNAL: no verified client certificate: %w", ErrInvalidCredentials)
	}
	if err := s.claim(ctx, authzid); err != nil {
		return nil, false, err
	}
	mapper := s.a.(CertificateMapper) // NewServerSession checked
	id, err := mapper.MapCertificate(ctx, t.TLS.VerifiedChains[0], authzid)
	if err != nil {
		return nil, false, fmt.Errorf("auth: EXTERNAL: %w", err)
	}
	if authzid != "" && id.Username == "" {
		id.Username = authzid
	}
	s.id = id
	if s.username == "" {
		s.username = id.Username
	}
	return nil, true, nil
}
