package syncer

// FullPullPage is fullPullPage, for the tests outside the package.
const FullPullPage = fullPullPage

// MinRampPage is minRampPage, for the tests outside the package.
const MinRampPage = minRampPage

// RampPage is rampPage of the n-th page of a pull whose first page said
// total records remain.
func RampPage(total int64, n int) int {
	r := &run{}
	r.pullTotal.Store(total)
	return r.rampPage(n)
}
