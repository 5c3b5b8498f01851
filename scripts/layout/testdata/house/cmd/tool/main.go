package main

// Version is what no one may import.
const Version = "1"

func main() {}
