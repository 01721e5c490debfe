package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/lake/tenants"
)

func newTenantCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Which tenant each system belongs to: list, and move a system (admin)",
		Long: `Every system belongs to one tenant, recorded in the lake's Delta table 'systems'
(system_id, tenant, created_at, created_by): a system becomes the tenant's of the
credential that first writes it, and systems never claimed are the default tenant's.
A credential reads only its tenant's systems (see the README's auth section).

These commands work on the lake itself (--lake), as its owner.`,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the claimed systems and their tenants (JSON)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			m, err := tenants.New(store).Refresh(cmd.Context())
			if err != nil {
				return err
			}
			out := map[string]string{}
			for _, name := range append([]string{tenants.DefaultTenant}, m.Tenants()...) {
				for _, s := range m.Systems(name) {
					out[s] = name
				}
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"version": m.Version, "systems": out})
		},
	}
	move := &cobra.Command{
		Use:   "move SYSTEM_ID TENANT",
		Short: "Move a system to another tenant (one logged commit: AKOSHA TENANT MOVE)",
		Long: `move gives a system, with all its records, to another tenant: from then on only that
tenant's credentials (and fleet-wide admins) read it. It is one commit to the systems
table whose commitInfo names the operation AKOSHA TENANT MOVE, the system, both tenants
and who ran it (cli:<local user>); it is also logged. Nothing else moves a system.`,
		Example: `  akosha tenant move --lake s3://bucket/akosha laptop-7 team-b`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sys, to := args[0], args[1]
			if !auth.ValidTenant(sys) || !auth.ValidTenant(to) {
				return usageError{fmt.Errorf("system %q and tenant %q must match ^[A-Za-z0-9_-]{1,100}$", sys, to)}
			}
			store, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			from, v, err := tenants.New(store).Move(cmd.Context(), sys, to, "cli:"+localUser())
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"system_id": sys, "from": from, "to": to, "version": v})
		},
	}
	cmd.AddCommand(list, move)
	return cmd
}
