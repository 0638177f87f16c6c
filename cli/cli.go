// Package cli is the casefile command line: global flags and a table of
// subcommands, each implemented in its own file.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"

	"casefile/internal/safetext"
	"casefile/vault"
)

// Version is the casefile version, set at build time with -ldflags.
var Version = "dev"

// Env is what a command runs with.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	DataDir        string // --data, $CASEFILE_DATA, the config file, or the default
	ConfigPath     string // --config, $CASEFILE_CONFIG, or the default
	// Getenv reads the environment: os.Getenv, or a test's own.
	Getenv func(string) string
	// LookupEnv reads a variable and whether it is set at all
	// (os.LookupEnv); without it, a variable set but empty reads as unset.
	LookupEnv func(string) (string, bool)

	hooks testHooks

	keys *vault.Keys // the data directory's keys, once unlocked

	// storedKeyMeant says the data directory's key is stored beside it on
	// purpose (the demo's): a passphrase in the environment is not meant
	// for it, and is neither warned about nor refused.
	storedKeyMeant bool
	// startDB lets this command start a new database where a data
	// directory in use has none (checkDatabaseThere): doctor --repair,
	// and the demo, whose server holds everything its directories do.
	startDB bool
}

// testHooks let tests reach inside a command; zero for everyone else.
type testHooks struct {
	// exportPage, when positive, is how many records export reads at a
	// time instead of localdb.ReadPage.
	exportPage int
	// afterExportPage runs after each page export reads.
	afterExportPage func()
	// cutRepair is asked after each step of a repair that leaves files
	// behind; true stops the repair there, as a kill would.
	cutRepair func() bool
}

// Command is one subcommand.
type Command struct {
	Name    string
	Usage   string // arguments after the name, e.g. "COLLECTION field=value..."
	Summary string // one line for casefile --help
	// Run executes the command. fs is the command's own flag set, already
	// named; Run defines its flags, then parses args with it.
	Run func(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error
}

// commandTable indexes every subcommand by name. Each file lists its own
// commands; a new file's list joins here.
func commandTable() map[string]*Command {
	groups := [][]Command{
		recordCommands(), listCommands(), queueCommands(), conflictCommands(), retryCommands(),
		statusCommands(), syncCommands(), doctorCommands(), loginCommands(), exportCommands(),
		importCommands(), fileCommands(), inboxCommands(), tuiCommands(), demoCommands(),
		serveCommands(), adminCommands(), benchCommands(), keyCommands(), lockCommands(), revokedCommands(),
		agendaCommands(), undoCommands(),
	}
	table := map[string]*Command{}
	for _, g := range groups {
		for i := range g {
			if _, dup := table[g[i].Name]; dup {
				panic("cli: command listed twice: " + g[i].Name)
			}
			table[g[i].Name] = &g[i]
		}
	}
	return table
}

// ExitError carries an exit code other than 1 with its message.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// errUsage marks an error already explained by printed usage.
var errUsage = errors.New("usage")

// Main runs casefile with the given arguments (without the program name)
// and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv, LookupEnv: os.LookupEnv}, args)
}

// lookupEnv reads the variable name and whether it is set, even to "".
func (env *Env) lookupEnv(name string) (string, bool) {
	if env.LookupEnv != nil {
		return env.LookupEnv(name)
	}
	v := env.Getenv(name)
	return v, v != ""
}

// run is Main with the environment given whole.
func run(ctx context.Context, env *Env, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	global := flag.NewFlagSet("casefile", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.StringVar(&env.DataDir, "data", "", "data directory (env CASEFILE_DATA)")
	global.StringVar(&env.ConfigPath, "config", "", "config file (env CASEFILE_CONFIG)")
	version := global.Bool("version", false, "print the version and exit")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, global)
			return 0
		}
		fmt.Fprintf(stderr, "casefile: %s\n", safetext.Line(err.Error()))
		usage(stderr, global)
		return 2
	}
	if *version {
		fmt.Fprintf(stdout, "casefile %s\n", Version)
		return 0
	}
	// An empty --data or --config (an unset shell variable, say) would
	// quietly mean the default one: a person who names a place means it.
	for _, name := range []string{"data", "config"} {
		if f := global.Lookup(name); f != nil && f.Value.String() == "" && flagGiven(global, name) {
			fmt.Fprintf(stderr, "casefile: --%s is empty; name a %s, or leave the flag out for the default\n", name, map[string]string{"data": "directory", "config": "file"}[name])
			return 2
		}
	}
	rest := global.Args()
	name := "tui"
	if len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if name == "help" {
		if len(rest) == 0 {
			usage(stdout, global)
			return 0
		}
		name, rest = rest[0], []string{"--help"}
	}
	commands := commandTable()
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "casefile: unknown command %q (run 'casefile --help' for the list)\n", name)
		return 2
	}
	fs := flag.NewFlagSet("casefile "+cmd.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := cmd.Run(ctx, env, fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(stdout, cmd, fs)
		return 0
	}
	if err != nil {
		var ee *ExitError
		code := 1
		if errors.As(err, &ee) {
			code = ee.Code
		}
		// An error may quote the server or stored text: print it as data.
		msg := safetext.Text(err.Error())
		if isFlagError(err) {
			fmt.Fprintf(stderr, "casefile %s: %s\n", cmd.Name, msg)
			commandUsage(stderr, cmd, fs)
			return 2
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "casefile %s: %s\n", cmd.Name, msg)
		}
		return code
	}
	return 0
}

// flagError marks errors from parsing a command's flags.
type flagError struct{ err error }

func (e flagError) Error() string { return e.err.Error() }

func isFlagError(err error) bool {
	var fe flagError
	return errors.As(err, &fe)
}

// Parse parses a command's flags, allowing flags after positional
// arguments ("add note title=x --json"). A lone "--" ends flags.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, flagError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseNoArgs parses the flags of a command that takes no positional
// arguments, and refuses any with a usage error that names the command.
func parseNoArgs(fs *flag.FlagSet, args []string, command string) error {
	pos, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("%s takes no arguments", command)
	}
	return nil
}

func usage(w io.Writer, global *flag.FlagSet) {
	commands := commandTable()
	fmt.Fprintf(w, "Casefile: offline-first case work for lawyers and field teams.\n\n")
	fmt.Fprintf(w, "Usage: casefile [--data DIR] [--config FILE] COMMAND [ARGS]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, n := range names {
		fmt.Fprintf(tw, "  %s\t%s\n", n, commands[n].Summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nGlobal flags:\n")
	global.SetOutput(w)
	global.PrintDefaults()
	global.SetOutput(io.Discard)
	fmt.Fprintf(w, "\nRun 'casefile COMMAND --help' for a command's arguments. With no command, casefile opens the terminal UI.\n")
}

func commandUsage(w io.Writer, cmd *Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: casefile %s %s\n\n%s\n", cmd.Name, cmd.Usage, cmd.Summary)
	// A flag without a description is the command's own business (bench's
	// worker processes take theirs so), not a person's: it is not shown.
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Usage != "" {
			shown.Var(f.Value, f.Name, f.Usage)
			shown.Lookup(f.Name).DefValue = f.DefValue // not what flags before --help set
		}
	})
	if hasFlags(shown) {
		fmt.Fprintf(w, "\nFlags:\n")
		shown.SetOutput(w)
		shown.PrintDefaults()
	}
}

// hasFlags reports whether fs defines any flag.
func hasFlags(fs *flag.FlagSet) bool {
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	return has
}
