package messages

// AppendJSON appends r as encoding/json writes it (jsonappend.go): a
// runner's public fields in declaration order, the secret fields left out
// as their `json:"-"` tags say. A runner event carries this form, and one
// is written at every assignment and every release of a runner, so it is on
// the lifecycle's path.
//
// Runner deliberately has no MarshalJSON: storage embeds it in its stored
// form (with the secret hash), where a promoted MarshalJSON would take over
// the whole record.
func (r *Runner) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = AppendJSONString(b, r.ID)
	b = append(b, `,"name":`...)
	b = AppendJSONString(b, r.Name)
	b = append(b, `,"machineKey":`...)
	b = AppendJSONString(b, r.MachineKey)
	b = append(b, `,"type":`...)
	b = AppendJSONString(b, string(r.Type))
	b = append(b, `,"status":`...)
	b = AppendJSONString(b, string(r.Status))
	b = append(b, `,"lastHeartbeatAt":`...)
	b = r.LastHeartbeatAt.AppendJSON(b)
	b = append(b, `,"ipAddress":`...)
	if r.IPAddress == "" {
		b = append(b, "null"...)
	} else {
		b = AppendJSONString(b, string(r.IPAddress))
	}
	b = append(b, `,"metrics":`...)
	b = AppendRawJSON(b, r.Metrics)
	b = append(b, `,"currentExecutionId":`...)
	b = appendJSONStringPtr(b, r.CurrentExecutionID)
	b = append(b, `,"labels":`...)
	if r.Labels == nil {
		b = append(b, "null"...)
	} else {
		b = AppendLabels(b, r.Labels)
	}
	b = append(b, `,"offlineSince":`...)
	b = r.OfflineSince.AppendJSON(b)
	b = append(b, `,"createdAt":`...)
	b = r.CreatedAt.AppendJSON(b)
	b = append(b, `,"updatedAt":`...)
	b = r.UpdatedAt.AppendJSON(b)
	return append(b, '}')
}
