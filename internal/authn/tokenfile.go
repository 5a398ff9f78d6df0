package authn

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
)

// TokenFile authenticates the static bearer tokens of kube-apiserver's
// --token-auth-file: a CSV of token,user,uid[,"group1,group2"].
//
// k8s.io/apiserver's tokenfile looks tokens up in a map keyed by the token;
// kguard keys the map by the token's SHA-256, so the time a lookup takes
// depends on the digest, never on how much of a guessed token is right (a
// guess that shares a prefix with a real token shares nothing with its
// digest). Tokens are never kept in clear or logged.
type TokenFile struct {
	users map[[sha256.Size]byte]*user.DefaultInfo
	// Warnings are the records ignored or overridden while reading.
	Warnings []string
}

var _ authenticator.Token = &TokenFile{}

// ReadTokenFile reads a token CSV as kube-apiserver does: at least three
// columns, an empty token skipped with a warning, a repeated token overriding
// the earlier one with a warning, groups split on commas.
func ReadTokenFile(path string) (*TokenFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: token file: %v", ErrConfig, err)
	}
	defer f.Close()
	return ParseTokenFile(f, path)
}

// ParseTokenFile reads a token CSV from r; source names it in errors.
func ParseTokenFile(r io.Reader, source string) (*TokenFile, error) {
	tf := &TokenFile{users: map[[sha256.Size]byte]*user.DefaultInfo{}}
	reader := csv.NewReader(r)
	reader.FieldsPerRecord = -1
	for n := 1; ; n++ {
		record, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: token file %s: %v", ErrConfig, source, err)
		}
		line, _ := reader.FieldPos(0)
		if len(record) < 3 {
			return nil, fmt.Errorf("%w: token file %s, line %d: want at least 3 columns (token,user,uid[,\"group1,group2\"]), found %d",
				ErrConfig, source, line, len(record))
		}
		if record[0] == "" {
			tf.Warnings = append(tf.Warnings, fmt.Sprintf("token file %s, line %d: empty token ignored", source, line))
			continue
		}
		if record[1] == "" {
			return nil, fmt.Errorf("%w: token file %s, line %d: empty user name", ErrConfig, source, line)
		}
		info := &user.DefaultInfo{Name: record[1], UID: record[2]}
		if len(record) >= 4 && record[3] != "" {
			info.Groups = strings.Split(record[3], ",")
		}
		key := sha256.Sum256([]byte(record[0]))
		if _, dup := tf.users[key]; dup {
			tf.Warnings = append(tf.Warnings, fmt.Sprintf("token file %s, line %d: duplicate token, this record wins", source, line))
		}
		tf.users[key] = info
	}
	return tf, nil
}

// Len is the number of tokens.
func (t *TokenFile) Len() int { return len(t.users) }

// AuthenticateToken implements authenticator.Token.
func (t *TokenFile) AuthenticateToken(_ context.Context, token string) (*authenticator.Response, bool, error) {
	info, ok := t.users[sha256.Sum256([]byte(token))]
	if !ok {
		return nil, false, nil
	}
	u := *info
	u.Groups = append([]string(nil), info.Groups...)
	return &authenticator.Response{User: &u}, true, nil
}
