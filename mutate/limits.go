package mutate

import (
	"fmt"
	"strings"
)

// MaxPlanBytes bounds the fetch plan an injection writes (wisp-fetch's
// WISP_PLAN) and the exec shim's spec (WISP_ENV): the platform policy
// judges no larger ones (policy.MaxWispVarBytes), so wisp never writes what
// its own validating webhook would refuse. A pod's templates travel in its
// plan, so they are bounded together by it too (MaxTemplateBytes bounds
// each).
const MaxPlanBytes = 64 << 10

// templatesTooLarge refuses, before any is parsed, templates that together
// could not fit in a plan: parsing is an injection's most expensive step,
// and MaxTemplateBytes alone would let a pod carry any number of them.
func templatesTooLarge(annotations map[string]string) error {
	total := 0
	for k, v := range annotations {
		if strings.HasPrefix(k, AnnotationTemplatePrefix) {
			total += len(v)
		}
	}
	if total <= MaxPlanBytes {
		return nil
	}
	return &AnnotationError{Key: AnnotationTemplatePrefix + "<name>",
		Reason: fmt.Sprintf("the templates are %d bytes together; a pod's templates may have at most %d together (they travel in wisp-fetch's plan)", total, MaxPlanBytes)}
}

// planTooLarge refuses a plan (or an exec-shim spec, of the annotations
// named by key) over MaxPlanBytes.
func planTooLarge(key, what string, n int) error {
	if n <= MaxPlanBytes {
		return nil
	}
	return &AnnotationError{Key: key,
		Reason: fmt.Sprintf("these annotations make %s of %d bytes; it may have at most %d", what, n, MaxPlanBytes)}
}
