package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

func init() {
	register(&command{
		name:     "version",
		synopsis: "",
		summary:  "print the version of the command and its modules",
		details: `
Version prints the version of this command and of the shipevents modules it was
built with ("(devel)" for a build from a checkout), and the Go version.`,
		define: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usageError("unexpected argument %q", args[0])
				}
				bi, ok := debug.ReadBuildInfo()
				if !ok {
					fmt.Fprintf(e.stdout, "shipevents (unknown version) %s\n", runtime.Version())
					return nil
				}
				fmt.Fprintf(e.stdout, "%s %s %s\n", bi.Main.Path, bi.Main.Version, runtime.Version())
				for _, m := range bi.Deps {
					if strings.HasPrefix(m.Path, "github.com/shipevents/shipevents") {
						fmt.Fprintf(e.stdout, "%s %s\n", m.Path, m.Version)
					}
				}
				return nil
			}
		},
	})
}
