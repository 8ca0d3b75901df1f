package storage

import (
	"strconv"

	"github.com/exekra/orchestrator/messages"
)

// appendStoredRunner appends the stored form of r: encoding/json's bytes
// for storedRunner (the public record, then the secret hash and epoch),
// written by hand. A lifecycle writes its runner twice (BUSY, then ONLINE),
// and encoding/json's reflection was 5 % of a busy server's CPU
// (docs/performance.md); runnercodec_test.go checks the bytes on random
// runners.
func appendStoredRunner(b []byte, r *messages.Runner) []byte {
	b = r.AppendJSON(b)
	b = append(b[:len(b)-1], `,"secretHash":`...)
	b = messages.AppendJSONString(b, r.SecretHash)
	b = append(b, `,"secretEpoch":`...)
	b = strconv.AppendInt(b, r.SecretEpoch, 10)
	return append(b, '}')
}
