// Package sim holds Casefile's proof under faults: a seeded, deterministic
// simulation of several clients and a real server converging through a
// fault-injecting proxy (TestConvergence, TestConvergencePostgres), a
// crash test that kills the real casefile binary with SIGKILL mid-job
// (TestCrash), and the reduced regression tests of the bugs they found
// (TestBug*). The package has no code of its own outside its tests.
//
// A failing scenario prints its seed and the command that replays it:
//
//	CASEFILE_SIM_SEED=12345 go test -run 'TestConvergence/seed=12345$' ./sim
//
// Environment:
//
//	CASEFILE_SIM_SET=ci         the CI set (150 scenarios, as make test runs it)
//	CASEFILE_SIM_SCENARIOS=N    run N scenarios (make soak SCENARIOS=N)
//	CASEFILE_SIM_FIRST=S        first seed of a multi-scenario run (default 1)
//	CASEFILE_SIM_SEED=S         replay one scenario
//	CASEFILE_SIM_TRACE=1        print every step, run Doctor after each (slow)
//	CASEFILE_SIM_KILLS=N        SIGKILLs of TestCrash (default 89)
//	CASEFILE_SIM_KILL_SEED=S    seed of the kill moments (default 1)
//	CASEFILE_TEST_POSTGRES=URL  also run scenarios against PostgreSQL
package sim
