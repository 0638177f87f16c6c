// Package proof holds Casefile's adversarial suites, run by go test: hostile
// requests against a real server and hostile command lines against the
// CLI, access control checked as a property over random histories, and
// fuzz targets for the server's request handling and the schema parser.
// It has no code of its own; everything it checks lives elsewhere.
package proof
