package artifacts

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// testBucket is the bucket the S3 tests create and work in, each test under
// its own prefix.
const testBucket = "cairn-test"

// TestMain stops the moto_server the S3 tests may have started.
func TestMain(m *testing.M) {
	code := m.Run()
	moto.stop()
	os.Exit(code)
}

// moto is the S3 endpoint of the tests.
var moto s3Server

// s3Server is $CAIRN_TEST_S3_ENDPOINT, or else a moto_server started on a free
// loopback port by the first test that needs it.
type s3Server struct {
	once     sync.Once
	endpoint string
	missing  string // why there is no endpoint: moto is not installed
	err      error
	isMoto   bool // the endpoint answers moto's /moto-api/
	cmd      *exec.Cmd
	exited   chan struct{}
	output   bytes.Buffer // moto's output, for a start that fails
}

// s3Endpoint returns the test endpoint, with testBucket made. Without an
// endpoint it skips the test, or fails it when $CI is set.
func s3Endpoint(t *testing.T) string {
	t.Helper()
	moto.once.Do(func() {
		moto.endpoint = os.Getenv("CAIRN_TEST_S3_ENDPOINT")
		if moto.endpoint == "" {
			moto.err = moto.start()
		}
		if moto.err == nil && moto.missing == "" {
			moto.isMoto = answersMotoAPI(moto.endpoint)
			moto.err = createBucket(moto.endpoint)
		}
	})
	if moto.missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(moto.missing)
		}
		t.Skip(moto.missing)
	}
	require.NoError(t, moto.err, "S3 test endpoint")
	return moto.endpoint
}

// start runs moto_server on a free loopback port and waits until it answers.
func (m *s3Server) start() error {
	var argv []string
	if p, err := exec.LookPath("moto_server"); err == nil {
		argv = []string{p}
	} else if exec.Command("python3", "-c", "import moto.server").Run() == nil {
		argv = []string{"python3", "-m", "moto.server"}
	} else {
		m.missing = "S3 tests need moto_server (pip install 'moto[server]') or CAIRN_TEST_S3_ENDPOINT set to an S3 endpoint"
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	m.cmd = exec.Command(argv[0], append(argv[1:], "-H", "127.0.0.1", "-p", fmt.Sprint(port))...)
	m.cmd.Stdout, m.cmd.Stderr = &m.output, &m.output
	dieWithParent(m.cmd)
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	m.exited = make(chan struct{})
	go func() { m.cmd.Wait(); close(m.exited) }()

	m.endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case <-m.exited:
			return fmt.Errorf("moto_server exited: %s\n%s", m.cmd.ProcessState, &m.output)
		case <-time.After(100 * time.Millisecond):
		}
		if answersMotoAPI(m.endpoint) {
			return nil
		}
	}
	m.stop()
	return fmt.Errorf("moto_server did not answer on %s within 60s:\n%s", m.endpoint, &m.output)
}

// answersMotoAPI reports whether endpoint is a moto server.
func answersMotoAPI(endpoint string) bool {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get(endpoint + "/moto-api/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop kills moto_server if start ran it.
func (m *s3Server) stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	m.cmd.Process.Kill()
	<-m.exited
}

// s3TestOptions returns options for the test endpoint; the credentials are
// moto's dummies unless the environment names real ones.
func s3TestOptions(endpoint string) Options {
	opts := DefaultOptions()
	opts.S3Endpoint = endpoint
	opts.S3Region = "us-east-1"
	opts.S3ForcePathStyle = true
	opts.S3AccessKeyID, opts.S3SecretAccessKey = "test", "test"
	if id := os.Getenv("AWS_ACCESS_KEY_ID"); id != "" {
		opts.S3AccessKeyID, opts.S3SecretAccessKey = id, os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	opts.PartSize = minPartSize
	return opts
}

func createBucket(endpoint string) error {
	ctx := context.Background()
	s, err := openTestS3(ctx, endpoint, "")
	if err != nil {
		return err
	}
	_, err = s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(testBucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if errors.As(err, &owned) {
		return nil
	}
	return err
}

func openTestS3(ctx context.Context, endpoint, prefix string) (*s3Store, error) {
	st, err := Open(ctx, "s3://"+testBucket+"/"+prefix, s3TestOptions(endpoint))
	if err != nil {
		return nil, err
	}
	return st.(*s3Store), nil
}

// newS3 returns a store on the test endpoint under a prefix of its own.
func newS3(t *testing.T) *s3Store {
	t.Helper()
	endpoint := s3Endpoint(t)
	s, err := openTestS3(t.Context(), endpoint, t.Name()+"-"+rand.Text()[:8])
	require.NoError(t, err)
	return s
}

func TestS3(t *testing.T) {
	runContract(t, func(t *testing.T) Store { return newS3(t) })
}

// TestS3AbortsFailedUploads checks a stream that fails past the first part
// leaves no multipart upload behind.
func TestS3AbortsFailedUploads(t *testing.T) {
	s := newS3(t)
	require.ErrorIs(t, s.Put(t.Context(), "big.bin", failing(12<<20)), errBroken)
	out, err := s.client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{
		Bucket: &s.bucket,
		Prefix: aws.String(s.prefix + "/"),
	})
	require.NoError(t, err)
	require.Empty(t, out.Uploads)
}

// TestS3Prefix checks a store under a prefix sees only its own keys.
func TestS3Prefix(t *testing.T) {
	s := newS3(t)
	put(t, s, "a.txt", "a")
	root, err := openTestS3(t.Context(), s3Endpoint(t), "")
	require.NoError(t, err)
	require.Contains(t, paths(t, root, ""), s.prefix)
	require.Equal(t, []string{s.prefix + "/a.txt"}, paths(t, root, s.prefix))
	require.Equal(t, "a", get(t, root, s.prefix+"/a.txt"))
	require.Equal(t, "s3://"+testBucket+"/"+s.prefix, s.URI())
}

// TestS3Unreachable checks a dead endpoint reads as Unavailable.
func TestS3Unreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	endpoint := "http://" + l.Addr().String()
	l.Close()
	s, err := openTestS3(t.Context(), endpoint, "")
	require.NoError(t, err)
	_, _, err = s.Get(t.Context(), "a.txt")
	require.True(t, errs.Is(err, errs.Unavailable), "%v", err)
	require.Equal(t, "the artifact store cannot be reached", errs.MessageOf(err))
}

// motoLacksNoSuchUpload reports whether s is on a moto server. Moto 5 answers UploadPart and CompleteMultipartUpload for an unknown
// upload with a 500 (a KeyError), where S3 answers 404 NoSuchUpload.
func motoLacksNoSuchUpload(s Store) bool {
	_, ok := s.(*s3Store)
	return ok && moto.isMoto
}
