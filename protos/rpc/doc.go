// Package rpc is the Go code generated from the Azure Functions host's protocol (protos/*.proto:
// AzureFunctionsRpcMessages, the FunctionRpc service and its EventStream), with pinned protoc,
// protoc-gen-go and protoc-gen-go-grpc; scripts/genproto.sh regenerates it and, with --check,
// proves the committed code matches. Only this file is written by hand.
//
// It is a leaf: it imports no fbench package (scripts/layout checks this).
package rpc
