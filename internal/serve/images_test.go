package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// sizedImg is a test image whose decoding takes size bytes.
func sizedImg(a, b float32, size int64) string {
	return imgOf(fmt.Sprintf("IMG:%g,%g,%d", a, b, size))
}

// oipImages is an OIP request of BYTES images.
func oipImages(imgs ...string) string {
	return fmt.Sprintf(`{"inputs": [{"name": "image", "shape": [%d], "datatype": "BYTES", "data": ["%s"]}]}`, len(imgs), strings.Join(imgs, `", "`))
}

// TestImageLimits refuses, with 413 and the limit named, an image whose
// decoding takes more than max_image_bytes (before decoding any image of
// the request) and a request of more examples than the queue holds.
func TestImageLimits(t *testing.T) {
	model := &testModel{kind: KindImage, w: 1}
	table := &testModel{kind: KindTable, w: 1}
	l := &testLoader{current: "1", versions: map[string]Model{"1": model}}
	m, _, h := newTestManager(t, l)
	_, err := m.Deploy(context.Background(), Config{Name: "f", ModelURI: "x", MaxImageBytes: 1000, QueueSize: 4}, true)
	require.NoError(t, err)
	small, big := sizedImg(1, 1, 1000), sizedImg(1, 1, 5000)
	five := []string{small, small, small, small, small}

	for _, tc := range []struct {
		name, path, body string
		code             int
		msg              string
	}{
		{"one image at the limit", "/serve/f/", `{"image": "` + small + `"}`, 200, ""},
		{"one image over it", "/serve/f/", `{"image": "` + big + `"}`, 413,
			`field "image": image takes 5000 bytes to decode; the limit is 1000 bytes, the deployment's max_image_bytes`},
		{"predict", "/serve/f/predict", `{"image": "` + big + `"}`, 413, `field "image": image takes 5000 bytes`},
		{"OIP element 2 of 3", "/v2/models/f/infer", oipImages(small, small, big), 413,
			`input "image" element 2: image takes 5000 bytes to decode; the limit is 1000 bytes, the deployment's max_image_bytes`},
		{"invocations row 1", "/serve/f/invocations", `{"instances": ["` + small + `", {"image": "` + big + `"}]}`, 413,
			`row 1: image: image takes 5000 bytes`},
		{"OIP images over the queue", "/v2/models/f/infer", oipImages(five...), 413,
			"5 examples in one request: more than the 4 the deployment's queue holds (queue_size); send at most 4 per request"},
		{"OIP prepared over the queue", "/v2/models/f/infer",
			`{"inputs": [{"name": "input", "shape": [5, 2], "datatype": "FP32", "data": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}]}`, 413, "5 examples in one request"},
		{"invocations over the queue", "/serve/f/invocations", `{"instances": ["` + strings.Join(five, `", "`) + `"]}`, 413, "5 examples in one request"},
		{"OIP at the queue", "/v2/models/f/infer", oipImages(five[:4]...), 200, ""},
		{"not an image still 400", "/serve/f/", `{"image": "` + imgOf("hello") + `"}`, 400, `field "image": not a PNG or JPEG image`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := model.decodes.Load()
			code, out, _ := do(t, h, "POST", tc.path, tc.body)
			require.Equal(t, tc.code, code, out)
			if tc.code != 200 {
				require.Equal(t, tc.msg, out["error"].(string)[:len(tc.msg)])
				require.Equal(t, before, model.decodes.Load(), "an image was decoded before the request was refused")
			}
		})
	}

	// Table records over the queue, on their own deployment.
	l2 := &testLoader{current: "1", versions: map[string]Model{"1": table}}
	m2, _, h2 := newTestManager(t, l2)
	_, err = m2.Deploy(context.Background(), Config{Name: "t", ModelURI: "x", QueueSize: 2}, true)
	require.NoError(t, err)
	for _, tc := range []struct{ path, body string }{
		{"/serve/t/predict", `[{"a": 1}, {"a": 2}, {"a": 3}]`},
		{"/serve/t/invocations", `{"dataframe_records": [{"a": 1}, {"a": 2}, {"a": 3}]}`},
		{"/v2/models/t/infer", `{"inputs": [{"name": "a", "shape": [3], "datatype": "FP64", "data": [1, 2, 3]}]}`},
	} {
		code, out, _ := do(t, h2, "POST", tc.path, tc.body)
		require.Equal(t, 413, code, "%s: %v", tc.path, out)
		require.Contains(t, out["error"], "3 examples in one request: more than the 2 the deployment's queue holds (queue_size)")
	}

	// The default limit, and a negative one refused.
	st, err := m.Deploy(context.Background(), Config{Name: "g", ModelURI: "x"}, true)
	require.NoError(t, err)
	require.EqualValues(t, DefaultMaxImageBytes, st.MaxImageBytes)
	require.EqualValues(t, 64<<20, DefaultMaxImageBytes)
	_, err = m.Deploy(context.Background(), Config{Name: "g", ModelURI: "x", MaxImageBytes: -1}, true)
	require.ErrorContains(t, err, "max_image_bytes -1: expected a positive number")
}

// TestImageDecodeSlots decodes at most Decoders images at once across the
// server, however many requests arrive together.
func TestImageDecodeSlots(t *testing.T) {
	model := &testModel{kind: KindImage, w: 1, decodeDelay: 50 * time.Millisecond}
	l := &testLoader{current: "1", versions: map[string]Model{"1": model}}
	m := NewManager(Options{Loader: l, Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(), CPUs: 8, Decoders: 2})
	t.Cleanup(m.Close)
	mux := http.NewServeMux()
	m.Register(mux)
	for _, name := range []string{"a", "b"} {
		_, err := m.Deploy(context.Background(), Config{Name: name, ModelURI: "x"}, true)
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := []string{"a", "b"}[i%2]
			code, out, _ := do(t, mux, "POST", "/v2/models/"+name+"/infer", oipImages(img(1, 1), img(2, 2)))
			require.Equal(t, 200, code, out)
		}()
	}
	wg.Wait()
	require.EqualValues(t, 24, model.decodes.Load())
	require.EqualValues(t, 2, model.maxDecoding.Load(), "images decoded at once, both deployments together")
}

// TestImageDecodeTimeout ends a request whose deadline passes while it
// waits for a decoder slot or decodes, with the deployment's timeout
// status and at once, and stops the decode it leaves behind.
func TestImageDecodeTimeout(t *testing.T) {
	model := &testModel{kind: KindImage, w: 1, decodeDelay: 3 * time.Second}
	l := &testLoader{current: "1", versions: map[string]Model{"1": model}}
	m := NewManager(Options{Loader: l, Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(), CPUs: 2, Decoders: 1})
	t.Cleanup(m.Close)
	mux := http.NewServeMux()
	m.Register(mux)
	_, err := m.Deploy(context.Background(), Config{Name: "slow", ModelURI: "x", Timeout: Duration(800 * time.Millisecond)}, true)
	require.NoError(t, err)
	_, err = m.Deploy(context.Background(), Config{Name: "fast", ModelURI: "x", Timeout: Duration(100 * time.Millisecond)}, true)
	require.NoError(t, err)

	// Timed out while decoding.
	start := time.Now()
	code, out, hdr := do(t, mux, "POST", "/serve/fast/", `{"image": "`+img(1, 1)+`"}`)
	require.Equal(t, 503, code, out)
	require.Equal(t, "request timed out after 100ms", out["error"])
	require.Equal(t, "1", hdr.Get("Retry-After"))
	require.Less(t, time.Since(start), 2*time.Second, "the request waited for the decode")
	require.Eventually(t, func() bool { return model.decoding.Load() == 0 }, 2*time.Second, 5*time.Millisecond, "the abandoned decode goes on")

	// Timed out while another deployment's image holds the only slot.
	done := make(chan int)
	go func() {
		code, _, _ := do(t, mux, "POST", "/serve/slow/", `{"image": "`+img(1, 1)+`"}`)
		done <- code
	}()
	require.Eventually(t, func() bool { return model.decoding.Load() == 1 }, 2*time.Second, time.Millisecond)
	decodes := model.decodes.Load()
	start = time.Now()
	code, out, _ = do(t, mux, "POST", "/v2/models/fast/infer", oipImages(img(1, 1)))
	require.Equal(t, 503, code, out)
	require.Equal(t, "request timed out after 100ms", out["error"])
	require.Less(t, time.Since(start), 700*time.Millisecond, "the request waited past its deadline for a slot")
	require.Equal(t, decodes, model.decodes.Load(), "the request decoded without a slot")
	require.Equal(t, 503, <-done)
}

// TestManagementAPIRanges refuses numbers a deployment cannot take, naming
// the field, before anything is allocated for them.
func TestManagementAPIRanges(t *testing.T) {
	l := &testLoader{current: "1", versions: map[string]Model{"1": &testModel{kind: KindTable, w: 1}}}
	_, _, h := newTestManager(t, l)
	for _, tc := range []struct{ field, value, msg string }{
		{"queue_size", "1180591620717411303424", "Invalid value 1180591620717411303424 for parameter 'queue_size' supplied"},
		{"queue_size", "1e30", "Invalid value 1e30 for parameter 'queue_size' supplied"},
		{"queue_size", "4611686018427387904", "queue_size 4611686018427387904: expected 1 to 1048576"},
		{"max_batch_size", "-9223372036854775809", "Invalid value -9223372036854775809 for parameter 'max_batch_size' supplied"},
		{"max_body_bytes", "9223372036854775808", "Invalid value 9223372036854775808 for parameter 'max_body_bytes' supplied"},
		{"max_image_bytes", "1e30", "Invalid value 1e30 for parameter 'max_image_bytes' supplied"},
		{"replicas", "1180591620717411303424", "Invalid value 1180591620717411303424 for parameter 'replicas' supplied"},
		{"timeout", `"1e30h"`, "Invalid value 1e30h for parameter 'timeout' supplied"},
		{"timeout", `"3000000h"`, "Invalid value 3000000h for parameter 'timeout' supplied"},
	} {
		t.Run(tc.field+"="+tc.value, func(t *testing.T) {
			code, out, _ := do(t, h, "POST", "/api/2.0/cairn/deployments/create", `{"name": "t", "model_uri": "x", "wait": true, "`+tc.field+`": `+tc.value+`}`)
			require.Equal(t, 400, code, out)
			require.Equal(t, "INVALID_PARAMETER_VALUE", out["error_code"])
			require.Contains(t, out["message"], tc.msg)
		})
	}
	code, out, _ := do(t, h, "GET", "/api/2.0/cairn/deployments/list", "")
	require.Equal(t, 200, code)
	require.Empty(t, out["deployments"])
}
