package syncer

// FullPullPage is fullPullPage, for the tests outside the package.
const FullPullPage = fullPullPage
