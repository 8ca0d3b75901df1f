package messages

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Assets (docs/api.md, "Assets"): named values that workflows use without
// holding them. TEXT values are readable; SECRET values and CREDENTIAL
// passwords are write-only, sealed at rest, and leave the server only in the
// poll answer that hands an execution using them to its runner.

// AssetType is TEXT, SECRET or CREDENTIAL.
type AssetType string

// The asset types.
const (
	AssetText       AssetType = "TEXT"
	AssetSecret     AssetType = "SECRET"
	AssetCredential AssetType = "CREDENTIAL"
)

// ValidAssetType reports whether t is one of the three types.
func ValidAssetType(t AssetType) bool {
	return t == AssetText || t == AssetSecret || t == AssetCredential
}

// Bounds of an asset's fields.
const (
	MaxAssetName        = 100
	MaxAssetValue       = 64 << 10 // bytes of a value or password
	MaxAssetUsername    = 200      // characters
	MaxAssetDescription = 1000     // characters
)

// Asset is an asset as every read shows it: never a SECRET value or a
// CREDENTIAL password. Value is set for TEXT assets only, Username for
// CREDENTIAL assets only; HasValue says whether the value (TEXT, SECRET)
// or the password (CREDENTIAL) is set.
type Asset struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        AssetType `json:"type"`
	Description string    `json:"description"`
	Value       *string   `json:"value,omitempty"`
	Username    *string   `json:"username,omitempty"`
	HasValue    bool      `json:"hasValue"`
	CreatedBy   string    `json:"createdBy"`
	CreatedAt   Time      `json:"createdAt"`
	UpdatedAt   Time      `json:"updatedAt"`
}

// AssetSecrets are the write-only parts of an asset, as the assets actor
// hands them to storage (which seals them) on a create or an update. A nil
// field is not given (an update keeps it).
type AssetSecrets struct {
	Value    *string // SECRET
	Password *string // CREDENTIAL
}

// CreateAsset creates an asset. Reply: *Asset. Errors: VALIDATION_ERROR,
// CONFLICT (name taken, case-insensitively).
type CreateAsset struct {
	Name        string
	Type        AssetType
	Value       *string
	Username    *string
	Password    *string
	Description *string
	Origin      Origin
}

// UpdateAsset changes an asset (nil fields are kept). Type, when given,
// must be the asset's own (a type never changes). Reply: *Asset. Errors:
// NOT_FOUND, VALIDATION_ERROR, CONFLICT (name taken; renaming an asset that
// a published version uses).
type UpdateAsset struct {
	ID          string
	Name        *string
	Type        *AssetType
	Value       *string
	Username    *string
	Password    *string
	Description *string
	Origin      Origin
}

// DeleteAsset removes an asset. Reply: *Ack. Errors: NOT_FOUND, CONFLICT
// (a published version uses it; the message names the workflows).
type DeleteAsset struct {
	ID     string
	Origin Origin
}

// HandOverAssets asks for the assets that an execution's version uses, for
// the poll answer that hands the execution to RunnerID. The execution must
// be ASSIGNED to that runner. Each hand-over is audited (names, execution,
// runner; never a value). Reply: *AssetBundle. Errors: FORBIDDEN (not the
// assignee, or no longer ASSIGNED), NOT_FOUND.
type HandOverAssets struct {
	ExecutionID string
	RunnerID    string
	IP          string
}

// AssetBundle maps each asset name a version's references use (as written
// in the graph) to its current value. It is the only thing that carries an
// asset's secret out of the server.
type AssetBundle map[string]*HandedAsset

// HandedAsset is one asset in a hand-over: Value for TEXT and SECRET,
// Username and Password for CREDENTIAL.
type HandedAsset struct {
	Type     AssetType `json:"type"`
	Value    *string   `json:"value,omitempty"`
	Username *string   `json:"username,omitempty"`
	Password *string   `json:"password,omitempty"`
}

// assetNamePattern is the syntax of asset names: letters, digits, '_' and
// '-' (no dot, so NAME.username and NAME.password are never ambiguous).
var assetNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// CheckAssetName trims and checks an asset name.
func CheckAssetName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if !assetNamePattern.MatchString(n) {
		return "", Invalid("name must be 1 to %d letters, digits, '_' or '-' (got %q)", MaxAssetName, clip(n, 40))
	}
	return n, nil
}

// AssetKey is the case-insensitive identity of an asset name.
func AssetKey(name string) string { return strings.ToLower(name) }

// CheckAssetValue checks a value or password: at most MaxAssetValue bytes.
func CheckAssetValue(field, v string) error {
	if len(v) > MaxAssetValue {
		return Invalid("%s must be at most %d bytes", field, MaxAssetValue)
	}
	return nil
}

// CheckAssetUsername checks a CREDENTIAL username: at most
// MaxAssetUsername characters, no control characters.
func CheckAssetUsername(v string) error {
	switch {
	case utf8.RuneCountInString(v) > MaxAssetUsername:
		return Invalid("username must be at most %d characters", MaxAssetUsername)
	case strings.ContainsFunc(v, unicode.IsControl):
		return Invalid("username must not contain control characters")
	}
	return nil
}

// CheckAssetDescription checks a description: at most MaxAssetDescription
// characters, and free text as every description is (CheckDescription).
func CheckAssetDescription(v string) error {
	if utf8.RuneCountInString(v) > MaxAssetDescription {
		return Invalid("description must be at most %d characters", MaxAssetDescription)
	}
	return CheckDescription("description", v)
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// The fields a reference may name.
const (
	AssetFieldValue    = ""         // {{asset:NAME}}: a TEXT or SECRET value
	AssetFieldUsername = "username" // {{asset:NAME.username}}
	AssetFieldPassword = "password" // {{asset:NAME.password}}
)

// AssetRef is one reference to an asset inside a node's params.
type AssetRef struct {
	Name  string // as written
	Field string // AssetFieldValue, AssetFieldUsername or AssetFieldPassword
}

// assetRefOpen finds the start of every reference; assetRefInner is the
// exact form of what stands between "{{asset:" and "}}" (spaces allowed
// just inside the braces).
var (
	assetRefAny   = regexp.MustCompile(`\{\{\s*asset:([^{}]*)\}\}`)
	assetRefInner = regexp.MustCompile(`^([A-Za-z0-9_-]{1,100})(?:\.(username|password))?\s*$`)
)

// AssetRefs lists the asset references in the string values of every
// node's params of a graph (each distinct reference once, sorted). A
// reference that does not have the form {{asset:NAME}},
// {{asset:NAME.username}} or {{asset:NAME.password}} is a VALIDATION_ERROR
// naming it. The graph is assumed valid (ValidateGraph).
func AssetRefs(graphJSON string) ([]AssetRef, error) {
	if !strings.Contains(graphJSON, "asset:") {
		return nil, nil // the common case: no reference can be there
	}
	var g struct {
		Nodes []struct {
			ID     string          `json:"id"`
			Params json.RawMessage `json:"params"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(graphJSON), &g); err != nil {
		return nil, Invalid("graphJson is not a graph object")
	}
	seen := map[AssetRef]bool{}
	var out []AssetRef
	for _, n := range g.Nodes {
		if len(n.Params) == 0 {
			continue
		}
		var params any
		if err := json.Unmarshal(n.Params, &params); err != nil {
			continue
		}
		var bad error
		walkStrings(params, func(s string) {
			for _, m := range assetRefAny.FindAllStringSubmatch(s, -1) {
				inner := assetRefInner.FindStringSubmatch(m[1])
				if inner == nil {
					if bad == nil {
						bad = Invalid("node %q: %q is not an asset reference: write {{asset:NAME}}, {{asset:NAME.username}} or {{asset:NAME.password}}", n.ID, clip(m[0], 60))
					}
					continue
				}
				r := AssetRef{Name: inner[1], Field: inner[2]}
				if !seen[r] {
					seen[r] = true
					out = append(out, r)
				}
			}
		})
		if bad != nil {
			return nil, bad
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Field < out[j].Field
	})
	return out, nil
}

// walkStrings calls f with every string value inside v (object keys are
// not values).
func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	case map[string]any:
		for _, e := range x {
			walkStrings(e, f)
		}
	}
}

// AssetRefNames is the distinct names of refs, sorted.
func AssetRefNames(refs []AssetRef) []string {
	var out []string
	for _, r := range refs {
		if len(out) == 0 || out[len(out)-1] != r.Name {
			out = append(out, r.Name)
		}
	}
	return out
}

// Audit actions of assets (append-only, like the list in records.go).
const (
	AuditAssetCreated   = "asset.created"
	AuditAssetUpdated   = "asset.updated"
	AuditAssetDeleted   = "asset.deleted"
	AuditAssetHandedOut = "asset.handed_over"
)

// AssetChange is a stored change of an asset; nil fields are kept.
// Value is a TEXT value or a SECRET value (sealed by storage), Password a
// CREDENTIAL password (sealed).
type AssetChange struct {
	Name        *string
	Description *string
	Value       *string
	Username    *string
	Password    *string
	UpdatedAt   Time
}
