// Command layout measures fbench's house and holds its rules. Run from the module's root:
//
//	go run ./scripts/layout [DIR]
//
// it prints the lines of Go outside tests per package (generated code counted apart), the ten
// longest functions, and the import graph of the module's own packages, top floor first; it exits
// 1, naming each offending import, when the graph breaks the rules.
//
// The rules live in one place, floors.go: every package's floor. A package imports only packages
// on lower floors (on its own floor only where sameFloor allows the edge), nothing outside cmd/
// imports cmd/..., and no code outside tests imports a test-only package
// (loadgen/refworker/workertest). layout_test.go checks them under go test, so scripts/test.sh
// fails when an import reaches up; a new package must be added to the floors table. They also
// keep cmd/fbench under 1 000 lines of Go and the README's Layout table on the same floors as
// floors.go (ReadmeDrift).
//
// As a program under scripts/, it may import any fbench package except cmd/... (it imports none).
package main
