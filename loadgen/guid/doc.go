// Package guid makes the GUID strings the Functions protocol uses for worker, request and
// invocation ids: random (version 4) UUIDs in their canonical 36-character form.
//
// It is a leaf: it imports no fbench package (scripts/layout checks this).
package guid
