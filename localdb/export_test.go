package localdb

// PullJournalEach exposes pullJournalEach to the model tests (package
// localdb_test).
const PullJournalEach = pullJournalEach
