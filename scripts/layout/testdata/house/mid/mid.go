package mid

import (
	"fmt"

	"example.com/house/cmd/tool"
	"example.com/house/helper"
	"example.com/house/leaf"
)

// T is a type with a method.
type T struct{}

// Long is the fixture's longest function.
func (*T) Long() {
	fmt.Println(leaf.Up())
	fmt.Println(tool.Version)
	helper.Help()
}
