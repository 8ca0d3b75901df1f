package messages

import "encoding/json"

// MaxJSONDepth is how deeply a JSON document a client sends may nest: its
// objects and arrays inside one another, the outermost counting as 1
// (docs/decisions.md, "Nesting"). encoding/json refuses more than 10,000
// levels, so a deeper document that a client once stored inside a larger
// record (an execution's input inside the execution) would make that record
// unreadable; 128 leaves every real document room and the stored forms far
// from the decoder's limit.
const MaxJSONDepth = 128

// JSONDepth returns the deepest nesting of objects and arrays in b (0 for a
// scalar, 1 for {} or [1]). It reads brackets outside strings, skipping
// escaped characters, and stops as soon as the depth passes limit (a limit
// ≤ 0 means none), returning that depth: a hostile document costs no more
// than limit levels of scanning state, and nothing is allocated. It does not
// check that b is valid JSON; the decoder that follows does.
func JSONDepth(b []byte, limit int) int {
	depth, max := 0, 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped character, a quote included
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				max = depth
				if limit > 0 && max > limit {
					return max
				}
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
		}
	}
	return max
}

// CheckJSONDepth is the VALIDATION_ERROR for a document of what (a field
// name, "request body") nested deeper than MaxJSONDepth, nil otherwise.
func CheckJSONDepth(what string, b []byte) error {
	return checkJSONDepth(what, b, MaxJSONDepth)
}

func checkJSONDepth(what string, b []byte, limit int) error {
	if JSONDepth(b, limit) > limit {
		return Invalid("%s is nested deeper than %d levels", what, limit)
	}
	return nil
}

// CheckEnvelopeDepth checks a request body. The body is a document the
// client sends, so it may nest MaxJSONDepth levels; the documents it
// carries (an execution's input, a trigger's config) may each nest
// MaxJSONDepth levels on their own, so a body whose one level more comes
// from such a field is accepted, and any other body deeper than
// MaxJSONDepth is not (docs/decisions.md, "Nesting").
func CheckEnvelopeDepth(b []byte) error {
	depth := JSONDepth(b, MaxJSONDepth+1)
	if depth <= MaxJSONDepth {
		return nil
	}
	refused := Invalid("request body is nested deeper than %d levels", MaxJSONDepth)
	if depth > MaxJSONDepth+1 {
		return refused
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return refused
	}
	for name, value := range top {
		if JSONDepth(value, MaxJSONDepth) >= MaxJSONDepth && !envelopedDocuments[name] {
			return refused
		}
	}
	return nil
}

// envelopedDocuments are the body fields that hold a client's own JSON
// document, measured on its own.
var envelopedDocuments = map[string]bool{"input": true, "config": true}
