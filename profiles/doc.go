// Package profiles holds load profiles: YAML lists of stages, built into the
// binary or read from a file, that become a loadgen schedule.
//
// A profile looks like this:
//
//	description: Ramp from 10% to 100% of --rps over a minute, then hold.
//	arrival: constant        # optional: constant or poisson; --arrival overrides
//	stages:
//	  - name: warmup         # optional; names the phase in reports
//	    duration: 10s        # required, > 0, Go syntax (90s, 2m, 1h30m)
//	    rate: 10%            # constant rate
//	    warmup: true         # excluded from the summary (by time); leading stages only
//	  - name: ramp
//	    duration: 60s
//	    from: 10%            # linear ramp: from and to instead of rate
//	    to: 100%
//	  - repeat: 3            # a block of stages, repeated
//	    stages:
//	      - {name: steady, duration: 50s, rate: 100%}
//	      - {name: spike, duration: 10s, rate: 200%}
//
// A rate is absolute (500, in requests per second) or relative to the -rps
// the user gives (50%), so that one profile fits any worker. Relative rates
// need -rps. Unknown fields, missing or conflicting fields, negative values and
// bad YAML are errors that name the file, the line and the field, e.g.
//
//	ramp.yaml:7: stages[1].duration: invalid duration "6Os"
//
// YAML aliases are not supported (use repeat).
//
// It may import loadgen and what lies below it; never loadgen/coldstart, loadgen/runner,
// loadgen/capacity or cmd (scripts/layout checks this).
package profiles
