// Command akosha is Akosha's single binary: the functions, the jobs, and the
// client commands. See README.md and docs/cli/ (generated
// from these commands); the HTTP contract is api/openapi.yaml.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/internal/config"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
)

// Exit codes every command shares (jobs add their own, see jobs/).
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "akosha:", err)
		if ce, ok := err.(interface{ ExitCode() int }); ok {
			os.Exit(ce.ExitCode())
		}
		os.Exit(exitFailed)
	}
}

// globals are the flags every command shares.
type globals struct {
	lakeURL string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "akosha",
		Short:         "Akosha pools Session-Buddy memories into a Parquet lake and answers search, SQL and analytics",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			setupLogging()
		},
	}
	root.PersistentFlags().StringVar(&g.lakeURL, "lake", config.LakeURL.String(),
		"lake: a directory, file://... or s3://bucket/prefix (env AKOSHA_LAKE_URL)")
	root.AddCommand(newLakeCmd(g), newServeCmd(g), newFunctionCmd(g), newSQLCmd(g), newDeleteCmd(g), newErasuresCmd(g), newJobCmd(g), newSearchCmd(g), newAnalyticsCmd(g), newGraphCmd(g), newTenantCmd(g))
	return root
}

func setupLogging() {
	var level slog.Level
	if err := level.UnmarshalText([]byte(config.LogLevel.String())); err != nil {
		level = slog.LevelInfo
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
}

// openLake opens the lake the --lake flag names.
func (g *globals) openLake(ctx context.Context) (*lake.Lake, error) {
	store, err := g.openStore(ctx)
	if err != nil {
		return nil, err
	}
	return lake.Open(ctx, store)
}

func (g *globals) openStore(ctx context.Context) (storage.Store, error) {
	if g.lakeURL == "" {
		return nil, usageError{fmt.Errorf("no lake: pass --lake or set AKOSHA_LAKE_URL")}
	}
	return storage.Open(ctx, g.lakeURL)
}

// usageError makes the process exit with exitUsage.
type usageError struct{ error }

func (usageError) ExitCode() int { return exitUsage }
