package same

import "example.com/house/mid"

// M uses a package on its own floor.
var M mid.T
