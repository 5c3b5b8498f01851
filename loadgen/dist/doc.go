// Package dist parses and samples duration distributions such as service
// times and think times.
//
// Accepted forms (durations use time.ParseDuration syntax, none may be negative):
//
//	10ms                  fixed (also "fixed:10ms"; "0" is a fixed zero)
//	uniform:1ms-20ms      uniform on [MIN, MAX]
//	exp:5ms               exponential with the given mean
//	normal:10ms,2ms       normal (mean, stddev), samples clamped to >= 0
//	lognormal:10ms,80ms   log-normal given its median and 99th percentile
//
// It is a leaf: it imports no fbench package (scripts/layout checks this).
package dist
