// Package stray is on no floor.
package stray
