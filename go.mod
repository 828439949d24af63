module github.com/mailfront/mailfront

go 1.26.0

require (
	github.com/emersion/go-message v0.18.2
	github.com/pires/go-proxyproto v0.15.0
	github.com/stretchr/testify v1.12.1
	golang.org/x/crypto v0.59.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)
