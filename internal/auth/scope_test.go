package auth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/cairn-mlops/cairn/internal/auth"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/store/meta"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// scopeFixture has two experiments with one run each, and a task token of
// eddie (edit) confined to experiment "in".
type scopeFixture struct {
	svc          *auth.Service
	db           *meta.DB
	inExp, inRun string
	outExp, out  string
	secret       string
}

func newScopeFixture(t *testing.T) *scopeFixture {
	t.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, filepath.Join(t.TempDir(), "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	svc := auth.NewService(db, auth.Options{BcryptCost: bcrypt.MinCost, Resources: db})
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"root", auth.RoleAdmin}, {"eddie", auth.RoleEdit}, {"rick", auth.RoleRun}, {"rita", auth.RoleRead}} {
		_, err := svc.CreateUser(ctx, u.name, u.name+"-password", u.role)
		require.NoError(t, err)
	}
	tr := tracking.NewService(db)
	f := &scopeFixture{svc: svc, db: db}
	for _, p := range []struct{ exp, run *string }{{&f.inExp, &f.inRun}, {&f.outExp, &f.out}} {
		id, err := tr.CreateExperiment(ctx, "exp-"+tracking.NewID()[:6], "", nil)
		require.NoError(t, err)
		run, err := tr.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: id})
		require.NoError(t, err)
		*p.exp, *p.run = id, run.Info.RunID
	}
	f.secret, err = svc.CreateTaskToken(ctx, "eddie", auth.Scope{PipelineRun: "pr1", Experiment: f.inExp}, false, false)
	require.NoError(t, err)
	return f
}

func (f *scopeFixture) authorize(method, target, body string, need auth.Level) (auth.Principal, error) {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+f.secret)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	p, err := f.svc.Authorize(r, need)
	if err == nil && r.Body != nil {
		// The handler still sees the whole body.
		b, _ := io.ReadAll(r.Body)
		if string(b) != body {
			return p, errs.Invalidf("body changed: %q", b)
		}
	}
	return p, err
}

func TestTaskTokenScope(t *testing.T) {
	f := newScopeFixture(t)
	const m = "/api/2.0/mlflow/"
	in, out := f.inRun, f.out
	tests := []struct {
		name           string
		method, target string
		body           string
		need           auth.Level
		ok             bool
	}{
		{"reads anything", "GET", m + "runs/get?run_id=" + out, "", auth.Read, true},
		{"searches", "POST", m + "runs/search", `{}`, auth.Read, true},
		{"logs to its run", "POST", m + "runs/log-batch", `{"run_id":"` + in + `","metrics":[]}`, auth.Write, true},
		{"logs by run_uuid", "POST", m + "runs/log-metric", `{"run_uuid":"` + in + `","key":"a","value":1}`, auth.Write, true},
		{"ajax prefix", "POST", "/ajax-api/2.0/mlflow/runs/set-tag", `{"run_id":"` + in + `","key":"a","value":"b"}`, auth.Write, true},
		{"uploads by query", "POST", "/ajax-api/2.0/mlflow/upload-artifact?run_id=" + in + "&path=x", "", auth.Write, true},
		{"creates runs in its experiment", "POST", m + "runs/create", `{"experiment_id":"` + f.inExp + `"}`, auth.Write, true},
		{"numeric experiment id", "POST", m + "runs/create", `{"experiment_id":` + f.inExp + `}`, auth.Write, true},
		{"artifacts of its experiment", "PUT", "/api/2.0/mlflow-artifacts/artifacts/" + f.inExp + "/" + in + "/artifacts/m.txt", "x", auth.Write, true},
		{"multipart in its experiment", "POST", "/api/2.0/mlflow-artifacts/mpu/create/" + f.inExp + "/" + in + "/artifacts/big", `{}`, auth.Write, true},
		{"registers a model", "POST", m + "registered-models/create", `{"name":"fingers"}`, auth.Write, true},
		{"sets an alias", "POST", m + "registered-models/alias", `{"name":"fingers","alias":"champion","version":"1"}`, auth.Write, true},
		{"deploys", "POST", "/api/2.0/cairn/deployments/create", `{}`, auth.Write, true},

		{"logs to another experiment's run", "POST", m + "runs/log-batch", `{"run_id":"` + out + `"}`, auth.Write, false},
		{"unknown run", "POST", m + "runs/log-batch", `{"run_id":"nope"}`, auth.Write, false},
		{"names no run", "POST", m + "runs/update", `{}`, auth.Write, false},
		{"the body's run counts, not the query's", "POST", m + "runs/log-batch?run_id=" + in, `{"run_id":"` + out + `"}`, auth.Write, false},
		{"the query's run counts without a body", "POST", m + "runs/log-batch?run_id=" + out, "", auth.Write, false},
		{"creates runs elsewhere", "POST", m + "runs/create", `{"experiment_id":"` + f.outExp + `"}`, auth.Write, false},
		{"creates runs in the default experiment", "POST", m + "runs/create", `{}`, auth.Write, false},
		{"creates experiments", "POST", m + "experiments/create", `{"name":"x"}`, auth.Write, false},
		{"deletes an experiment", "POST", m + "experiments/delete", `{"experiment_id":"` + f.inExp + `"}`, auth.Write, false},
		{"deletes runs", "POST", m + "runs/delete", `{"run_id":"` + in + `"}`, auth.Write, false},
		{"artifacts elsewhere", "PUT", "/api/2.0/mlflow-artifacts/artifacts/" + f.outExp + "/" + out + "/artifacts/m.txt", "x", auth.Write, false},
		{"artifact path games", "PUT", "/api/2.0/mlflow-artifacts/artifacts/" + f.inExp + "0/x", "x", auth.Write, false},
		{"deletes a model", "DELETE", m + "registered-models/delete", `{"name":"fingers"}`, auth.Write, false},
		{"deletes an alias", "DELETE", m + "registered-models/alias", `{"name":"fingers","alias":"champion"}`, auth.Write, false},
		{"submits pipelines", "POST", "/api/2.0/cairn/pipelines/runs/submit", `{}`, auth.Write, false},
		{"deletes deployments", "POST", "/api/2.0/cairn/deployments/delete", `{}`, auth.Write, false},
		{"manages users", "GET", "/api/2.0/cairn/users/list", "", auth.Admin, false},
		{"not JSON", "POST", m + "runs/log-batch", `{"run_id":`, auth.Write, false},
		{"not an object", "POST", m + "runs/log-batch", `["` + in + `"]`, auth.Write, false},
		{"a key in another case", "POST", m + "runs/log-batch", `{"run_id":"` + in + `","RUN_ID":"` + out + `"}`, auth.Write, false},
		{"a repeated key", "POST", m + "runs/log-batch", `{"run_id":"` + in + `","run_id":"` + out + `"}`, auth.Write, false},
		{"both names", "POST", m + "runs/log-batch", `{"run_id":"` + in + `","run_uuid":"` + out + `"}`, auth.Write, false},
		{"an experiment in another case", "POST", m + "runs/create", `{"experiment_id":"` + f.inExp + `","Experiment_Id":"` + f.outExp + `"}`, auth.Write, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.authorize(tt.method, tt.target, tt.body, tt.need)
			if tt.ok {
				require.NoError(t, err)
				require.Equal(t, "eddie", p.User)
				require.Equal(t, &auth.Scope{PipelineRun: "pr1", Experiment: f.inExp}, p.Scope)
				return
			}
			require.Error(t, err)
			require.Contains(t, []errs.Kind{errs.PermissionDenied, errs.Invalid}, errs.KindOf(err), "%v", err)
		})
	}
}

// TestTaskTokenLifetime: a task token acts for its user as they are now, at
// most as an editor, and ends with its run or its user.
func TestTaskTokenLifetime(t *testing.T) {
	ctx := context.Background()
	f := newScopeFixture(t)
	sc := auth.Scope{PipelineRun: "pr2", Experiment: f.inExp}
	write := func(secret string) error {
		r := httptest.NewRequest("POST", "/api/2.0/mlflow/runs/set-tag", strings.NewReader(`{"run_id":"`+f.inRun+`"}`))
		r.Header.Set("Authorization", "Bearer "+secret)
		r.Header.Set("Content-Type", "application/json")
		_, err := f.svc.Authorize(r, auth.Write)
		return err
	}

	// Only users who may run commands get a token for a run with run: tasks.
	_, err := f.svc.CreateTaskToken(ctx, "eddie", sc, true, false)
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err))
	require.Contains(t, errs.MessageOf(err), "role 'run' or 'admin'")
	_, err = f.svc.CreateTaskToken(ctx, "rita", sc, false, false)
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err))
	_, err = f.svc.CreateTaskToken(ctx, "nobody", sc, false, false)
	require.Equal(t, errs.NotFound, errs.KindOf(err))
	_, err = f.svc.CreateTaskToken(ctx, "", sc, false, false)
	require.Equal(t, errs.Invalid, errs.KindOf(err))

	// rick (run) gets one; it writes as an editor, never as more.
	rick, err := f.svc.CreateTaskToken(ctx, "rick", sc, true, false)
	require.NoError(t, err)
	require.NoError(t, write(rick))
	r := httptest.NewRequest("GET", "/api/2.0/mlflow/runs/get", nil)
	r.Header.Set("Authorization", "Bearer "+rick)
	p, err := f.svc.Authorize(r, auth.Read)
	require.NoError(t, err)
	require.Equal(t, auth.RoleEdit, p.Role)

	// A second token for the same run replaces the first.
	again, err := f.svc.CreateTaskToken(ctx, "rick", sc, true, false)
	require.NoError(t, err)
	require.Equal(t, errs.Unauthenticated, errs.KindOf(write(rick)))
	require.NoError(t, write(again))

	// Kept: one issued on resuming a run whose attempts still run in a
	// cluster leaves theirs working; revoking the run ends both.
	kept, err := f.svc.CreateTaskToken(ctx, "rick", sc, true, true)
	require.NoError(t, err)
	require.NoError(t, write(again))
	require.NoError(t, write(kept))
	require.NoError(t, f.svc.RevokeTaskToken(ctx, "pr2"))
	require.Equal(t, errs.Unauthenticated, errs.KindOf(write(kept)))
	again, err = f.svc.CreateTaskToken(ctx, "rick", sc, true, false)
	require.NoError(t, err)

	// Demoted: it reads no more than its user.
	require.NoError(t, f.svc.SetRole(ctx, "rick", auth.RoleRead))
	require.Equal(t, errs.PermissionDenied, errs.KindOf(write(again)))
	require.NoError(t, f.svc.SetRole(ctx, "rick", auth.RoleRun))
	require.NoError(t, write(again))

	// Revoked with the run.
	require.NoError(t, f.svc.RevokeTaskToken(ctx, "pr2"))
	require.Equal(t, errs.Unauthenticated, errs.KindOf(write(again)))

	// Gone with the user.
	eddie := f.secret
	require.NoError(t, write(eddie))
	require.NoError(t, f.svc.DeleteUser(ctx, "eddie"))
	require.Equal(t, errs.Unauthenticated, errs.KindOf(write(eddie)))

	// Pruned at start when its run has ended.
	s3, err := f.svc.CreateTaskToken(ctx, "rick", auth.Scope{PipelineRun: "pr3", Experiment: f.inExp}, false, false)
	require.NoError(t, err)
	s4, err := f.svc.CreateTaskToken(ctx, "rick", auth.Scope{PipelineRun: "pr4", Experiment: f.inExp}, false, false)
	require.NoError(t, err)
	plain, _, err := f.svc.CreateToken(ctx, "rick", "ci", 0)
	require.NoError(t, err)
	require.NoError(t, f.svc.PruneTaskTokens(ctx, func(run string) bool { return run == "pr3" }))
	require.Equal(t, errs.Unauthenticated, errs.KindOf(write(s3)))
	require.NoError(t, write(s4))
	require.NoError(t, write(plain), "users' own tokens are never pruned")
}

func TestParseScope(t *testing.T) {
	sc := auth.Scope{PipelineRun: "abc", Experiment: "12"}
	got, err := auth.ParseScope(sc.String())
	require.NoError(t, err)
	require.Equal(t, &sc, got)
	none, err := auth.ParseScope("")
	require.NoError(t, err)
	require.Nil(t, none)
	for _, bad := range []string{"x", "pipeline-run:", "pipeline-run:a:experiment:", "run:a:experiment:1"} {
		_, err := auth.ParseScope(bad)
		require.Error(t, err, bad)
	}
	_ = http.MethodGet
}

func TestRoles(t *testing.T) {
	for _, r := range []auth.Role{auth.RoleRead, auth.RoleEdit, auth.RoleRun, auth.RoleAdmin} {
		got, err := auth.ParseRole(string(r))
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	_, err := auth.ParseRole("root")
	require.ErrorContains(t, err, "'read', 'edit', 'run', 'admin'")
	require.False(t, auth.RoleEdit.MayRunCommands())
	require.True(t, auth.RoleRun.MayRunCommands())
	require.True(t, auth.RoleAdmin.MayRunCommands())
	require.True(t, auth.RoleRun.Allows(auth.Write))
	require.False(t, auth.RoleRun.Allows(auth.Admin))
	require.Equal(t, auth.RoleEdit, auth.RoleAdmin.AtMost(auth.RoleEdit))
	require.Equal(t, auth.RoleRead, auth.RoleRead.AtMost(auth.RoleEdit))
}
