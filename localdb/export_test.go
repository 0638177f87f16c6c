package localdb

// PullJournalEach exposes pullJournalEach to the model tests (package
// localdb_test).
const PullJournalEach = pullJournalEach

// CopyFile exposes copyFile (a missing file copies nothing) to the model
// tests' crash step.
var CopyFile = copyFile
