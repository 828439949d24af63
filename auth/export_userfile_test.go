package auth

import "strings"

// Internal hooks for the external tests of the users file.

// ParseAndFormatUsers parses a users file and, if it is valid, returns its
// user lines formatted again, in file order.
func ParseAndFormatUsers(content string) ([]string, error) {
	if _, err := parseUsers(strings.NewReader(content)); err != nil {
		return nil, err
	}
	var lines []string
	for line := range strings.Lines(strings.TrimPrefix(content, "\uFEFF")) {
		if u, _ := parseUserLine(line); u != nil {
			lines = append(lines, formatUserLine(u))
		}
	}
	return lines, nil
}

// UsersFileCheckInterval and UsersFileSettle are the users file's timing.
const (
	UsersFileCheckInterval = usersFileCheckInterval
	UsersFileSettle        = usersFileSettle
)
