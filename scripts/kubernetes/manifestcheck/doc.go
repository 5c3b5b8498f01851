// Package manifestcheck holds the test that decodes fbench's Kubernetes manifests strictly against
// the Kubernetes API types. It is a module of its own so that fbench does not depend on k8s.io.
package manifestcheck
