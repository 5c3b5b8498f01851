package leaf

import "example.com/house/top"

// Up reaches a higher floor.
func Up() string { return top.Name }
