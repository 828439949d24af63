package auth

// Internal hooks for the external tests of password hashing.

// CheckPasswordHash checks the syntax and bounds of a password hash without
// computing it.
func CheckPasswordHash(hash string) error { return checkPasswordHash(hash) }
