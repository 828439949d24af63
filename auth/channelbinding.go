package auth

// Channel binding types (RFC 5929, RFC 9266).
const (
	bindingTLSExporter       = "tls-exporter"
	bindingTLSServerEndPoint = "tls-server-end-point"
)

// channelBindingTypes returns the channel binding types the connection t can
// provide, preferred first. tls-exporter needs TLS 1.3, or TLS 1.2 with the
// extended master secret; tls-server-end-point needs the server certificate.
// tls-unique is never offered: it is unsafe with TLS 1.2 resumption and
// undefined for TLS 1.3 (RFC 9266 §3).
func channelBindingTypes(t Transport) []string {
	if t.TLS == nil {
		return nil
	}
	var types []string
	if _, err := t.TLS.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32); err == nil {
		types = append(types, bindingTLSExporter)
	}
	if t.LocalCertificate != nil {
		types = append(types, bindingTLSServerEndPoint)
	}
	return types
}
