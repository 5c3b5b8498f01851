package mid

import (
	"testing"

	"example.com/house/helper"
)

func TestHelp(t *testing.T) { helper.Help() }
