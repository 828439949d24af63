module github.com/mailfront/mailfront

go 1.26.8

require (
	github.com/pires/go-proxyproto v0.15.0
	golang.org/x/crypto v0.59.0
)
