package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-mlops/cairn/internal/auth"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/pipeline"
	"github.com/cairn-mlops/cairn/internal/store/meta"
	"github.com/cairn-mlops/cairn/internal/web"
)

// authAdapter lets an auth.Service guard the web server; the handlers find
// who sent a request with auth.PrincipalFrom.
type authAdapter struct{ svc *auth.Service }

func (a authAdapter) Authorize(r *http.Request, need web.Access) (context.Context, error) {
	p, err := a.svc.Authorize(r, auth.Level(need))
	if err != nil {
		return nil, err
	}
	if p.User == "" {
		return r.Context(), nil // a public route
	}
	return auth.WithPrincipal(r.Context(), p), nil
}

// taskCredentials gives each pipeline run's tasks a token of the user who
// submitted it, confined to that run (auth.Service.CreateTaskToken).
type taskCredentials struct{ svc *auth.Service }

func (c taskCredentials) Issue(ctx context.Context, run *pipeline.Run, commands, keep bool) (string, error) {
	return c.svc.CreateTaskToken(ctx, run.SubmittedBy, auth.Scope{PipelineRun: run.ID, Experiment: run.ExperimentID}, commands, keep)
}

func (c taskCredentials) Revoke(ctx context.Context, runID string) error {
	return c.svc.RevokeTaskToken(ctx, runID)
}

// newAuthService returns the server's auth service, refusing to start when
// no admin exists (nobody could sign in to create one), after deleting the
// task tokens of pipeline runs that ended while the server was down.
func newAuthService(ctx context.Context, db *meta.DB) (*auth.Service, error) {
	opts := auth.DefaultOptions()
	opts.Resources = db
	svc := auth.NewService(db, opts)
	ok, err := svc.HasAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, usageError{errors.New("--auth needs at least one admin user; create one first with: cairn users add NAME --role admin --data DIR (it asks for the password)")}
	}
	err = svc.PruneTaskTokens(ctx, func(runID string) bool {
		r, err := db.FindPipelineRunByID(ctx, runID)
		return errs.Is(err, errs.NotFound) || (err == nil && r.Phase.Done())
	})
	if err != nil {
		return nil, err
	}
	return svc, nil
}

// storeFlags adds --data and --db to commands that open the database directly.
func storeFlags(cmd *cobra.Command) {
	cmd.Flags().String("data", DefaultConfig().Data, "the server's data folder (its database is DATA/cairn.db)")
	cmd.Flags().String("db", "", "database URI instead of --data (postgres://... or a SQLite path)")
	cmd.Flags().Bool("json", false, "print JSON instead of a table")
}

// openAuth opens the database named by --db or --data. Only create (for
// adding the first user before the server ever ran) may make a new SQLite
// file; elsewhere a missing file means a wrong --data, which is an error.
func openAuth(cmd *cobra.Command, create bool) (*auth.Service, func(), error) {
	data, _ := cmd.Flags().GetString("data")
	uri, _ := cmd.Flags().GetString("db")
	if uri == "" {
		uri = filepath.Join(data, "cairn.db")
		if _, err := os.Stat(uri); errors.Is(err, os.ErrNotExist) && !create {
			return nil, nil, usageError{fmt.Errorf("no database at %s: pass the server's --data folder or --db URI", uri)}
		}
	}
	log, err := newLogger(cmd)
	if err != nil {
		return nil, nil, err
	}
	opts := meta.DefaultOptions()
	opts.Logger = log
	db, err := meta.Open(cmd.Context(), uri, opts)
	if err != nil {
		return nil, nil, err
	}
	return auth.NewService(db, auth.DefaultOptions()), func() { db.Close() }, nil
}

// withAuth runs a command body with the auth service on the database named
// by --data or --db; only create may make a new SQLite file.
func withAuth(create bool, run func(cmd *cobra.Command, svc *auth.Service, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		svc, done, err := openAuth(cmd, create)
		if err != nil {
			return err
		}
		defer done()
		return run(cmd, svc, args)
	}
}

// readPassword takes a password from --password-stdin or asks twice on the terminal.
func readPassword(cmd *cobra.Command) (string, error) {
	fromStdin, _ := cmd.Flags().GetBool("password-stdin")
	in := bufio.NewReader(cmd.InOrStdin())
	if fromStdin {
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			return "", usageError{errors.New("--password-stdin: no password on standard input")}
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
	p1, _ := in.ReadString('\n')
	fmt.Fprint(cmd.ErrOrStderr(), "Again: ")
	p2, _ := in.ReadString('\n')
	p1, p2 = strings.TrimRight(p1, "\r\n"), strings.TrimRight(p2, "\r\n")
	if p1 != p2 {
		return "", usageError{errors.New("the two passwords differ")}
	}
	return p1, nil
}

func newUsersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage the users of a server started with --auth",
		Long: `Manage users directly in the server's database. Roles: read (read-only),
edit (read and write), admin (everything, including users and tokens).
MLflow clients sign in with MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.`,
	}
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user (asks for the password, or reads it with --password-stdin)",
		Args:  cobra.ExactArgs(1),
		// Check the role before the database is opened (and maybe created).
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			roleS, _ := cmd.Flags().GetString("role")
			_, err := auth.ParseRole(roleS)
			return err
		},
		RunE: withAuth(true, func(cmd *cobra.Command, svc *auth.Service, args []string) error {
			roleS, _ := cmd.Flags().GetString("role")
			role, err := auth.ParseRole(roleS)
			if err != nil {
				return err
			}
			pw, err := readPassword(cmd)
			if err != nil {
				return err
			}
			u, err := svc.CreateUser(cmd.Context(), args[0], pw, role)
			if ok, _ := cmd.Flags().GetBool("if-missing"); ok && errs.KindOf(err) == errs.Conflict {
				fmt.Fprintf(cmd.OutOrStdout(), "user %s exists; left as it is\n", args[0])
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added user %s with role %s\n", u.Name, u.Role)
			return nil
		}),
	}
	storeFlags(add)
	add.Flags().String("role", "read", "read, edit, run (edit, and pipelines with run: shell tasks) or admin")
	add.Flags().Bool("password-stdin", false, "read the password from standard input")
	add.Flags().Bool("if-missing", false, "succeed, changing nothing, when the user exists (for a start-up script that makes the first admin)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: withAuth(false, func(cmd *cobra.Command, svc *auth.Service, args []string) error {
			users, err := svc.FindUsers(cmd.Context())
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), users)
			}
			rows := make([][]string, len(users))
			for i, u := range users {
				rows[i] = []string{u.Name, string(u.Role), u.CreationTime.Local().Format(time.DateTime)}
			}
			return printTable(cmd.OutOrStdout(), []string{"NAME", "ROLE", "CREATED"}, rows)
		}),
	}
	storeFlags(list)

	setRole := &cobra.Command{
		Use:   "set-role NAME ROLE",
		Short: "Change a user's role",
		Args:  cobra.ExactArgs(2),
		RunE: withAuth(false, func(cmd *cobra.Command, svc *auth.Service, args []string) error {
			role, err := auth.ParseRole(args[1])
			if err != nil {
				return err
			}
			return svc.SetRole(cmd.Context(), args[0], role)
		}),
	}
	storeFlags(setRole)

	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password",
		Args:  cobra.ExactArgs(1),
		RunE: withAuth(false, func(cmd *cobra.Command, svc *auth.Service, args []string) error {
			pw, err := readPassword(cmd)
			if err != nil {
				return err
			}
			return svc.SetPassword(cmd.Context(), args[0], pw)
		}),
	}
	storeFlags(passwd)
	passwd.Flags().Bool("password-stdin", false, "read the password from standard input")

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user and their tokens",
		Args:  cobra.ExactArgs(1),
		RunE: withAuth(false, func(cmd *cobra.Command, svc *auth.Service, args []string) error {
			return svc.DeleteUser(cmd.Context(), args[0])
		}),
	}
	storeFlags(del)
	cmd.AddCommand(add, list, setRole, passwd, del)
	return cmd
}

func newTokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Manage API tokens of a server started with --auth",
		Long:  `API tokens act as their user. MLflow clients send one with MLFLOW_TRACKING_TOKEN.`,
	}
	create := &cobra.Command{
		Use:   "create USER",
		Short: "Create a token for a user and print its secret (shown only once)",
		Args:  cobra.ExactArgs(1),
		RunE: withAuth(false, func(cmd *cobra.Command, svc *auth.Service, args []string) error {
			name, _ := cmd.Flags().GetString("name")
			ttl, _ := cmd.Flags().GetDuration("expires-in")
			secret, tok, err := svc.CreateToken(cmd.Context(), args[0], name, ttl)
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]any{"token": tok, "secret": secret})
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %s (%s) for %s; store the secret now, it is not shown again\n", tok.ID, tok.Name, tok.User)
			return nil
		}),
	}
	storeFlags(create)
	create.Flags().String("name", "default", "a name to tell the user's tokens apart")
	create.Flags().Duration("expires-in", 0, "lifetime, e.g. 720h (0: never expires)")

	list := &cobra.Command{
		Use:   "list [USER]",
		Short: "List tokens (of one user, or all)",
		Args:  cobra.MaximumNArgs(1),
		RunE: withAuth(false, func(cmd *cobra.Command, svc *auth.Service, args []string) error {
			user := ""
			if len(args) == 1 {
				user = args[0]
			}
			toks, err := svc.FindTokens(cmd.Context(), user)
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), toks)
			}
			rows := make([][]string, len(toks))
			for i, t := range toks {
				exp, used := "never", "never"
				if !t.ExpiryTime.IsZero() {
					exp = t.ExpiryTime.Local().Format(time.DateTime)
				}
				if !t.LastUsedTime.IsZero() {
					used = t.LastUsedTime.Local().Format(time.DateTime)
				}
				rows[i] = []string{t.ID, t.User, t.Name, t.Prefix + "...", exp, used}
			}
			return printTable(cmd.OutOrStdout(), []string{"ID", "USER", "NAME", "SECRET", "EXPIRES", "LAST USED"}, rows)
		}),
	}
	storeFlags(list)

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: withAuth(false, func(cmd *cobra.Command, svc *auth.Service, args []string) error {
			return svc.RevokeToken(cmd.Context(), args[0])
		}),
	}
	storeFlags(revoke)
	cmd.AddCommand(create, list, revoke)
	return cmd
}
