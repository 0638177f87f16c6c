package server

import (
	_ "embed"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Password rules for the passwords an admin sets.
const (
	// MinPasswordChars is the least length of a password, in characters
	// (NIST SP 800-63B's minimum for passwords a person chooses).
	MinPasswordChars = 8
	// maxPasswordBytes bounds what a password check hashes.
	maxPasswordBytes = 1024
)

//go:embed common_passwords.txt
var commonPasswordList string

// commonPasswords is the embedded list, lower-cased.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordList, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
}()

// checkNewPassword says what is wrong with a password an admin sets for
// a user, or nil.
func checkNewPassword(user, password string) error {
	switch {
	case password == "":
		return fmt.Errorf("%w: the password is empty", ErrInvalid)
	case len(password) > maxPasswordBytes:
		return fmt.Errorf("%w: the password is longer than %d bytes", ErrInvalid, maxPasswordBytes)
	case !utf8.ValidString(password):
		return fmt.Errorf("%w: the password is not valid UTF-8", ErrInvalid)
	case utf8.RuneCountInString(password) < MinPasswordChars:
		return fmt.Errorf("%w: the password has fewer than %d characters", ErrInvalid, MinPasswordChars)
	case strings.EqualFold(password, user):
		return fmt.Errorf("%w: the password is the user name", ErrInvalid)
	case commonPasswords[strings.ToLower(password)]:
		return fmt.Errorf("%w: the password is one of the most common passwords; choose another", ErrInvalid)
	}
	return nil
}
