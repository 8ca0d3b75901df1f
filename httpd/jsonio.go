package httpd

import (
	"bytes"
	"encoding/json"
	"errors"

	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/exekra/orchestrator/messages"
)

// writeJSON encodes v as the response with status.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	enc := json.NewEncoder(ctx)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		ctx.ResetBody()
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.SetBodyString(`{"error":"internal error","code":"INTERNAL"}`)
	}
}

// responseBuffers recycles the buffers hand-written encoders fill (the
// response copies them).
var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeBuilt answers status with the JSON body build appends (a
// hand-written encoder on a hot path) and a newline, as writeJSON ends.
func writeBuilt(ctx *fasthttp.RequestCtx, status int, build func(b []byte) []byte) {
	bp := responseBuffers.Get().(*[]byte)
	b := append(build((*bp)[:0]), '\n')
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	*bp = b
	responseBuffers.Put(bp)
}

// writeExecution answers {"execution": e} (the form every single-execution
// endpoint shares) through the execution's hand-written encoder.
func writeExecution(ctx *fasthttp.RequestCtx, status int, e *messages.Execution) {
	writeBuilt(ctx, status, func(b []byte) []byte {
		return append(e.AppendJSON(append(b, `{"execution":`...)), '}')
	})
}

// writeWebhookAccepted answers a webhook call: 200 {"executionId": id,
// "success": true} (the keys in encoding/json's map order).
func writeWebhookAccepted(ctx *fasthttp.RequestCtx, id string) {
	writeBuilt(ctx, fasthttp.StatusOK, func(b []byte) []byte {
		b = strconv.AppendQuote(append(b, `{"executionId":`...), id)
		return append(b, `,"success":true}`...)
	})
}

// decodeJSON decodes the request body into v. The body must be present,
// valid UTF-8, valid JSON, a JSON object (not null) and of the right types;
// anything else is a VALIDATION_ERROR naming what is wrong. Unknown fields
// are ignored, as clients of a growing API expect.
func decodeJSON(ctx *fasthttp.RequestCtx, v any) error {
	body := trimJSONSpace(ctx.PostBody())
	if len(body) == 0 {
		return messages.Invalid("request body is required (a JSON object)")
	}
	return decodeBytes(body, v)
}

// decodeOptionalJSON is decodeJSON for endpoints whose body may be empty.
func decodeOptionalJSON(ctx *fasthttp.RequestCtx, v any) error {
	body := trimJSONSpace(ctx.PostBody())
	if len(body) == 0 {
		return nil
	}
	return decodeBytes(body, v)
}

// decodeBytes decodes one JSON object from body into v.
func decodeBytes(body []byte, v any) error {
	if !utf8.Valid(body) {
		return messages.Invalid("request body is not valid UTF-8")
	}
	if body[0] != '{' {
		return messages.Invalid("request body must be a JSON object")
	}
	if err := messages.CheckEnvelopeDepth(body); err != nil {
		return err
	}
	// The common case (one valid object) decodes straight from the body;
	// only a failure goes through the decoder below, which tells a trailing
	// value from broken JSON for the error message.
	if json.Unmarshal(body, v) == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field != "" {
				return messages.Invalid("field %q must be %s", te.Field, jsonKind(te.Type.Kind().String()))
			}
			return messages.Invalid("request body has the wrong type")
		}
		var me *messages.Error
		if errors.As(err, &me) {
			return me
		}
		return messages.Invalid("request body is not valid JSON")
	}
	// One object decoded, yet the whole body is not valid JSON: something
	// follows it (a second value, or a stray "}" or "]", which dec.More
	// does not report).
	return messages.Invalid("request body must hold a single JSON object")
}

// trimJSONSpace drops the whitespace JSON allows around a value (space,
// tab, CR, LF) — not Unicode spaces such as U+00A0 or U+0085, which make
// the body invalid JSON.
func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "float64", "float32", "uint", "uint64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "of another type"
}

// requireString checks a required, non-blank string field.
func requireString(name string, v *string) error {
	if v == nil {
		return messages.Invalid("%s is required", name)
	}
	if len(bytes.TrimSpace([]byte(*v))) == 0 {
		return messages.Invalid("%s must not be empty", name)
	}
	return nil
}

// pageOf reads page and limit from the query (docs/api.md, "Conventions"): page ≥ 1 (default
// 1), limit 1..200 (default 50); anything else is a VALIDATION_ERROR.
func pageOf(ctx *fasthttp.RequestCtx) (messages.Page, error) {
	p := messages.Page{Page: 1, Limit: 50}
	args := ctx.QueryArgs()
	if args.Has("page") {
		n, err := strconv.Atoi(string(args.Peek("page")))
		if err != nil || n < 1 {
			return p, messages.Invalid("page must be an integer ≥ 1")
		}
		p.Page = n
	}
	if args.Has("limit") {
		n, err := strconv.Atoi(string(args.Peek("limit")))
		if err != nil || n < 1 || n > 200 {
			return p, messages.Invalid("limit must be an integer from 1 to 200")
		}
		p.Limit = n
	}
	return p, nil
}

// listBody is the list envelope {"<kinds>": [...], "pagination": {...}}.
func listBody(kinds string, items any, page messages.Page, total int) map[string]any {
	return map[string]any{kinds: items, "pagination": messages.NewPagination(page.Page, page.Limit, total)}
}

// writePage answers one page of an unfiltered list read by read, as the
// list envelope of kinds (an empty page is [], never null).
func writePage[T any](ctx *fasthttp.RequestCtx, kinds string, read func(messages.Page) ([]T, int, error)) error {
	page, err := pageOf(ctx)
	if err != nil {
		return err
	}
	items, total, err := read(page)
	if err != nil {
		return err
	}
	writeList(ctx, kinds, items, page, total)
	return nil
}

// writeList answers one page of items, total in all, as the list envelope
// of kinds (an empty page is [], never null).
func writeList[T any](ctx *fasthttp.RequestCtx, kinds string, items []T, page messages.Page, total int) {
	if items == nil {
		items = []T{}
	}
	writeJSON(ctx, fasthttp.StatusOK, listBody(kinds, items, page, total))
}

// queryFrom and queryTo parse the optional from/to time filters. A plain
// date (YYYY-MM-DD) is its whole day: "from" starts at its first
// millisecond, "to" ends at its last (so from=D&to=D is day D, as a reader
// of the query expects). A "+" of an offset sent unencoded arrives as a
// space and is read back as "+". Times before 1970 are refused: they are
// Unix milliseconds, and an earlier bound wrapped around in the index seek
// and selected the opposite of what it said.
func queryFrom(ctx *fasthttp.RequestCtx) (messages.Time, error) { return queryTime(ctx, "from", false) }

func queryTo(ctx *fasthttp.RequestCtx) (messages.Time, error) { return queryTime(ctx, "to", true) }

func queryTime(ctx *fasthttp.RequestCtx, name string, endOfDay bool) (messages.Time, error) {
	raw := string(ctx.QueryArgs().Peek(name))
	if raw == "" {
		return 0, nil
	}
	raw = strings.ReplaceAll(raw, " ", "+")
	t, err := messages.ParseTime(raw)
	if err != nil {
		return 0, messages.Invalid("%s: %s", name, messages.ErrorMessage(err))
	}
	if t < 0 {
		return 0, messages.Invalid("%s: %q is before 1970", name, raw)
	}
	if endOfDay && len(raw) == len("2006-01-02") {
		t += messages.Time(24*time.Hour/time.Millisecond) - 1
	}
	return t, nil
}

// pathParam copies a router path parameter out of fasthttp's buffers.
func pathParam(ctx *fasthttp.RequestCtx, name string) string {
	if v, ok := ctx.UserValue(name).(string); ok {
		return string(append([]byte(nil), v...))
	}
	return ""
}
