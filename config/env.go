package config

import (
	"fmt"

	"casefile/model"
)

func (c *Config) applyEnv(getenv func(string) string) error {
	// In this order: the first bad variable is the one reported.
	for _, set := range []func() error{
		func() error { return fromEnv(getenv, EnvServer, &c.Server, checkServer) },
		func() error { return fromEnv(getenv, EnvData, &c.DataDir, checkDataDir) },
		func() error { return fromEnv(getenv, EnvTheme, &c.Theme, checkTheme) },
		func() error { return fromEnv(getenv, EnvSyncInterval, &c.SyncInterval, parseInterval) },
		func() error { return fromEnv(getenv, EnvTimeZone, &c.TimeZone, checkTimeZoneName) },
		func() error { return fromEnv(getenv, EnvDateOrder, &c.DateOrder, model.ParseDateOrder) },
		func() error { return fromEnv(getenv, EnvRequestTimeout, &c.RequestTimeout, parseRequestTimeout) },
		func() error { return fromEnv(getenv, EnvMetricsListen, &c.MetricsListen, CheckListenAddr) },
		func() error { return fromEnv(getenv, EnvMetricsToken, &c.MetricsToken, checkMetricsToken) },
	} {
		if err := set(); err != nil {
			return err
		}
	}
	return nil
}

// fromEnv sets *dst from the environment variable name, through check,
// when the variable is set; an error names the variable.
func fromEnv[T any](getenv func(string) string, name string, dst *T, check func(string) (T, error)) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	got, err := check(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*dst = got
	return nil
}
