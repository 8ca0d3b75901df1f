package messages

// MaxNesting is the deepest JSON nesting the server accepts in anything it
// stores (request bodies, webhook bodies, graphJson, execution input,
// trigger config): a deeper document is refused (400), so no stored value
// can make a later decode fail.
const MaxNesting = 128

// CheckNesting refuses JSON text nested deeper than MaxNesting levels of
// objects and arrays. It only counts brackets outside strings; whether the
// text is valid JSON is for the decoder to say.
func CheckNesting[T ~string | ~[]byte](text T) error {
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > MaxNesting {
				return Invalid("JSON is nested deeper than %d levels", MaxNesting)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
