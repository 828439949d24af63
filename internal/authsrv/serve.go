package authsrv

import (
	"sync"

	"github.com/mailfront/mailfront/auth"
)

// What the protocol servers check and set up about logins when they start
// serving a listener.

// OwnThrottle is the Throttle of a server whose host set none: an
// [auth.Throttle] with its defaults, made on first use and private to that
// server, so that all its listeners share it. The zero value is ready to
// use; an OwnThrottle must not be copied after first use.
type OwnThrottle struct {
	once sync.Once
	t    *auth.Throttle
}

// Or returns shared if it is not nil (the host's Throttle), else the
// private one.
func (o *OwnThrottle) Or(shared *auth.Throttle) *auth.Throttle {
	if shared != nil {
		return shared
	}
	o.once.Do(func() { o.t = &auth.Throttle{} })
	return o.t
}
