// Command compose-config-check loads a compose file the way `docker compose config` does
// (github.com/compose-spec/compose-go: compose-spec schema, interpolation, merge keys, defaults,
// consistency checks such as depends_on naming an undefined service or a volume not declared)
// and prints the resolved project as JSON. It needs no Docker engine, so tests run it where
// `docker compose` is unavailable.
//
//	compose-config-check compose.yaml > resolved.json
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-config-check COMPOSE_FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "compose-config-check:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	options, err := cli.NewProjectOptions(
		[]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		// Only the file's own values: the result must not depend on the caller's environment.
		cli.WithEnv([]string{}),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}
	out, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(out, '\n'))
	return err
}
