"""The audit trail: what every SCIM write did, kept in the state database.

`notes` is what the use cases call while they write (target, actions, field
changes); `events` turns a finished request into an `AuditEvent`; `writer`
stores events off the hot path, in batches. `gateway.state.audit_events`
reads and writes the table; `workstream-admin audit` asks it.
"""
