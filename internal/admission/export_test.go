package admission

import "context"

// ReviewTwoPass answers like Review without the one-pass read of a pod's
// review, for the tests that compare the two.
func (c *Chain) ReviewTwoPass(ctx context.Context, body []byte, phase Phase) ([]byte, error) {
	return c.reviewTwoPass(ctx, body, phase)
}

// ReadsInOnePass reports whether Review reads body in one pass.
func (c *Chain) ReadsInOnePass(body []byte, phase Phase) bool {
	_, ok := c.readPodReview(body, phase)
	return ok
}
