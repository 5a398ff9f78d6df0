package constraints

import (
	"encoding/json"
	"fmt"
)

// compileCEL compiles a K8sNativeValidation source.
func compileCEL(kind string, source json.RawMessage) (engine, error) {
	return nil, fmt.Errorf("K8sNativeValidation is not implemented yet")
}
