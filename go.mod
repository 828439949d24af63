module github.com/mailfront/mailfront

go 1.26.8

require (
	github.com/emersion/go-message v0.18.2 // indirect
	github.com/pires/go-proxyproto v0.15.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/crypto v0.59.0 // indirect
)
