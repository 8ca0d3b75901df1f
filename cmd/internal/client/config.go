package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Saved is what `exekra login` keeps: the server, a session token and how
// to trust the server's certificate. The file is the user's alone (0600 in
// a 0700 directory): the token is a credential.
type Saved struct {
	Server             string `json:"server"`
	Token              string `json:"token"`
	Email              string `json:"email,omitempty"`
	CACert             string `json:"caCert,omitempty"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify,omitempty"`
}

// configFile is $XDG_CONFIG_HOME/exekra/credentials.json (os.UserConfigDir
// when the variable is not set).
func configFile(getenv func(string) string) (string, error) {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return "", fmt.Errorf("no config dir for the login: %w", err)
		}
	}
	return filepath.Join(dir, "exekra", "credentials.json"), nil
}

// loadSaved reads the saved login; nil when there is none.
func loadSaved(getenv func(string) string) (*Saved, error) {
	path, err := configFile(getenv)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s Saved
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s is damaged (log in again): %w", path, err)
	}
	return &s, nil
}

// save writes the login atomically: a 0600 file in a 0700 directory.
func save(getenv func(string) string, s *Saved) (string, error) {
	path, err := configFile(getenv)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".credentials-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}

// forget removes the saved login (nothing to do when there is none).
func forget(getenv func(string) string) error {
	path, err := configFile(getenv)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
