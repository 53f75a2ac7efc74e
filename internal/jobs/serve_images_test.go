package jobs

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/jpeg"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/serve"
	"github.com/cairn-mlops/cairn/internal/train"
)

// fingersPackage trains a tiny fingers model (16x16 gray) and returns its
// package folder and one of its training images.
func fingersPackage(t *testing.T) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	hands := filepath.Join(dir, "hands")
	_, err := images.GenerateHands(ctx, images.SynthHandsOptions{Out: hands, N: 48, Seed: 1, Size: 32})
	require.NoError(t, err)
	io := images.DefaultPrepareOptions()
	io.Source, io.Image, io.CacheDir = hands, images.Options{Size: 16, Channels: 1}, filepath.Join(dir, "cache")
	pr, err := images.Prepare(ctx, io)
	require.NoError(t, err)
	ds, err := data.Load(pr.Dir)
	require.NoError(t, err)
	opt := train.DefaultOptions()
	opt.Model, opt.Epochs = "small", 1
	model, _, err := train.Train(ctx, ds, opt)
	require.NoError(t, err)
	pkg := filepath.Join(dir, "fingers")
	_, err = model.SavePackage(pkg, nil, nil)
	require.NoError(t, err)
	files, _ := filepath.Glob(filepath.Join(hands, "*.png"))
	png, err := os.ReadFile(files[0])
	require.NoError(t, err)
	return pkg, png
}

// hugePNG is a PNG of w x h 16-bit RGB pixels, all black: a file of a few
// hundred kilobytes that decodes to w*h*8 bytes.
func hugePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	chunk := func(typ string, body []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
		out = append(append(out, typ...), body...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), body...)))
	}
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(w)), uint32(h))
	ihdr = append(ihdr, 16, 2, 0, 0, 0)
	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
	require.NoError(t, err)
	row := make([]byte, 1+w*6)
	for range h {
		_, err := zw.Write(row)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	out := append([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", idat.Bytes())...)
	return append(out, chunk("IEND", nil)...)
}

// TestServeImageLimits serves a real image model and sends it a small
// file that decodes to half a gigabyte: refused from its header with 413
// and the limit named, six at once too, while ordinary images serve.
func TestServeImageLimits(t *testing.T) {
	pkg, png := fingersPackage(t)
	m := serve.NewManager(serve.Options{Loader: ModelLoader{}, Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()})
	t.Cleanup(m.Close)
	_, err := m.Deploy(context.Background(), serve.Config{Name: "fingers", ModelURI: pkg}, true)
	require.NoError(t, err)
	mux := http.NewServeMux()
	m.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	post := func(path string, body string) (int, string) {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		msg, _ := out["error"].(string)
		return resp.StatusCode, msg
	}
	b64 := base64.StdEncoding.EncodeToString
	var jpg bytes.Buffer
	require.NoError(t, jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 40, 30)), nil))
	for _, b := range [][]byte{png, jpg.Bytes()} {
		code, msg := post("/serve/fingers/", `{"image": "`+b64(b)+`"}`)
		require.Equal(t, 200, code, msg)
	}

	huge := b64(hugePNG(t, 8000, 8000))
	require.Less(t, len(huge), 1<<20)
	const want = `field "image": 8000x8000 PNG image (RGBA64, 8 bytes per pixel) takes 492.3 MiB (516225026 bytes) to decode and resize; the limit is 64 MiB (67108864 bytes), the deployment's max_image_bytes`
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, msg := post("/serve/fingers/", `{"image": "`+huge+`"}`)
			require.Equal(t, 413, code, msg)
			require.Equal(t, want, msg)
		}()
	}
	wg.Wait()
	code, msg := post("/v2/models/fingers/infer", `{"inputs": [{"name": "image", "shape": [2], "datatype": "BYTES", "data": ["`+b64(png)+`", "`+huge+`"]}]}`)
	require.Equal(t, 413, code, msg)
	require.Contains(t, msg, `input "image" element 1: 8000x8000 PNG image`)
	code, msg = post("/serve/fingers/", `{"image": "`+b64(png)+`"}`)
	require.Equal(t, 200, code, msg)
}
