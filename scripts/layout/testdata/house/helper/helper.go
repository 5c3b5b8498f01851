package helper

// Help is for tests only.
func Help() {}
