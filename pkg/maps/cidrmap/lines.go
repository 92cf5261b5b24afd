package cidrmap

import "github.com/tern-mta/tern/pkg/maps/tablefile"

// spaces are the characters Postfix's ISSPACE accepts.
const spaces = tablefile.Spaces
