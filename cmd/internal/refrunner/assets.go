package refrunner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Assets (see the orchestrator's docs/api.md, "Assets"): the poll answer
// that hands an execution over carries the values of the assets its
// version references. Before a node is prepared, every reference in the
// string values of its params is replaced by the value:
//
//	{{asset:NAME}}            a TEXT or SECRET asset's value
//	{{asset:NAME.username}}   a CREDENTIAL asset's username
//	{{asset:NAME.password}}   a CREDENTIAL asset's password
//
// Secret values (SECRET values and CREDENTIAL passwords) never reach the
// execution log, the error reported for the execution or the runner's own
// log: every line passes a masker that writes *** in their place (also
// their JSON-escaped, URL-encoded forms and each line of a multi-line
// value). TEXT values and usernames are not masked: any user of the
// orchestrator may read them through the API anyway.

// AssetValue is one asset of a hand-over.
type AssetValue struct {
	Type     string  `json:"type"`
	Value    *string `json:"value,omitempty"`
	Username *string `json:"username,omitempty"`
	Password *string `json:"password,omitempty"`
}

// The asset types whose values are handed over.
const (
	AssetText       = "TEXT"
	AssetSecret     = "SECRET"
	AssetCredential = "CREDENTIAL"
)

// maskText replaces a secret in every log line.
const maskText = "***"

// The reference grammar, as the orchestrator checks it at publish.
var (
	assetRefAny   = regexp.MustCompile(`\{\{\s*asset:([^{}]*)\}\}`)
	assetRefInner = regexp.MustCompile(`^([A-Za-z0-9_-]{1,100})(?:\.(username|password))?\s*$`)
)

// lookupAsset finds an asset of the hand-over by name: as written, else
// regardless of case (the orchestrator resolves names so).
func lookupAsset(assets map[string]AssetValue, name string) (AssetValue, bool) {
	if a, ok := assets[name]; ok {
		return a, true
	}
	for k, a := range assets {
		if strings.EqualFold(k, name) {
			return a, true
		}
	}
	return AssetValue{}, false
}

// substituteAssets replaces the references in s.
func substituteAssets(s string, assets map[string]AssetValue) (string, error) {
	if !strings.Contains(s, "asset:") {
		return s, nil
	}
	var firstErr error
	out := assetRefAny.ReplaceAllStringFunc(s, func(ref string) string {
		m := assetRefAny.FindStringSubmatch(ref)
		inner := assetRefInner.FindStringSubmatch(m[1])
		if inner == nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%q is not an asset reference", ref)
			}
			return ref
		}
		name, field := inner[1], inner[2]
		a, ok := lookupAsset(assets, name)
		if !ok {
			if firstErr == nil {
				firstErr = fmt.Errorf("asset %q was not handed over with the execution (deleted since the workflow was published?)", name)
			}
			return ref
		}
		var v *string
		switch {
		case field == "" && a.Type != AssetCredential:
			v = a.Value
		case field == "username" && a.Type == AssetCredential:
			v = a.Username
		case field == "password" && a.Type == AssetCredential:
			v = a.Password
		default:
			if firstErr == nil {
				firstErr = fmt.Errorf("asset %q is a %s: the reference %s does not fit it", name, a.Type, ref)
			}
			return ref
		}
		if v == nil {
			return ""
		}
		return *v
	})
	return out, firstErr
}

// resolveAssets returns node with the asset references in the string values
// of its params replaced.
func resolveAssets(node Node, assets map[string]AssetValue) (Node, error) {
	raw := bytes.TrimSpace(node.Params)
	if len(raw) == 0 || !bytes.Contains(raw, []byte("asset:")) {
		return node, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var params any
	if err := dec.Decode(&params); err != nil {
		return node, nil // prepare reports bad params
	}
	var firstErr error
	params = mapStrings(params, func(s string) string {
		out, err := substituteAssets(s, assets)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return out
	})
	if firstErr != nil {
		return node, paramErr(node, firstErr.Error())
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(params); err != nil {
		return node, paramErr(node, "params: "+err.Error())
	}
	node.Params = json.RawMessage(bytes.TrimSpace(b.Bytes()))
	return node, nil
}

// mapStrings returns v with f applied to every string value (keys kept).
func mapStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		for i, e := range x {
			x[i] = mapStrings(e, f)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = mapStrings(e, f)
		}
		return x
	}
	return v
}

// masker hides the secret values of an execution's assets.
type masker struct{ r *strings.Replacer }

// newMasker builds the masker of a hand-over (nil masks nothing).
func newMasker(assets map[string]AssetValue) *masker {
	set := map[string]bool{}
	add := func(s string) {
		if strings.TrimSpace(s) != "" {
			set[s] = true
		}
	}
	for _, a := range assets {
		var secret *string
		switch a.Type {
		case AssetSecret:
			secret = a.Value
		case AssetCredential:
			secret = a.Password
		}
		if secret == nil || *secret == "" {
			continue
		}
		s := *secret
		add(s)
		if q, err := json.Marshal(s); err == nil {
			add(string(q[1 : len(q)-1]))
		}
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		for _, line := range strings.Split(s, "\n") {
			add(strings.TrimRight(line, "\r"))
		}
	}
	if len(set) == 0 {
		return nil
	}
	variants := make([]string, 0, len(set))
	for s := range set {
		variants = append(variants, s)
	}
	// Longest first: a value hides before any part of it does.
	sort.Slice(variants, func(i, j int) bool {
		if len(variants[i]) != len(variants[j]) {
			return len(variants[i]) > len(variants[j])
		}
		return variants[i] < variants[j]
	})
	pairs := make([]string, 0, 2*len(variants))
	for _, s := range variants {
		pairs = append(pairs, s, maskText)
	}
	return &masker{r: strings.NewReplacer(pairs...)}
}

// mask returns s with every secret replaced by ***.
func (m *masker) mask(s string) string {
	if m == nil {
		return s
	}
	return m.r.Replace(s)
}
